#!/bin/bash
# `make demo`, host side: boot the patched plain kernel and run
# ci/guest/demo.sh in it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
B=${BUILD:-$top/build}
cd "$top"
img=$(ci/build-kernel.sh patched plain) || exit 1
mkdir -p "$B/vmout"
res=$B/vmout/demo.jsonl
rm -f "$res"
echo "demo: booting $img"
t0=$(date +%s)
ci/vm-run.sh -k "$img" -l "$B/logs/demo.log" -- ci/guest/demo.sh "$res"
rc=$?
echo "demo: finished in $(( $(date +%s) - t0 ))s (status $rc); results in $res"
exit $rc
