#!/bin/bash
# `make demo`: boot the patched plain kernel and run a small part of the
# benchmark in it (ci/bench/guest-bench.sh): one zcfile LUN backed by a
# file on tmpfs through tcm_loop, fio 1 MiB sequential write and read at
# queue depth 8, with zero copy off (the copy path) and on; then the table
# (ci/bench/report.py --table) with TCMU's own counters per run.
# DEMO_RUNTIME: seconds per fio run (default 10). V=1: the kernel console too.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
B=${BUILD:-$top/build}
cd "$top"
. ci/vm/lib.sh
img=$(ci/kernel/build-kernel.sh patched plain) || exit 1
mkdir -p "$B/vmout"
res=$B/vmout/demo.jsonl
rm -f "$res"
echo "demo: booting $img"
t0=$(date +%s)
ci/vm/vm-run.sh -k "$img" -l "$B/logs/demo.log" $([ "${V:-0}" = 0 ] || echo -v) \
	-e BENCH_BACKENDS="tcmu-copy tcmu-zc" -e BENCH_BS=1M -e BENCH_QD=8 -e BENCH_RANDOM=0 \
	-e BENCH_RUNTIME="${DEMO_RUNTIME:-10}" -e BENCH_RAMP=2 -- ci/bench/guest-bench.sh "$res"
rc=$?
if [ -s "$res" ]; then
	echo
	echo "fio, 1 MiB sequential, iodepth 8, ${DEMO_RUNTIME:-10}s per run, zcfile LUN on tmpfs via tcm_loop"
	echo "(QEMU TCG: compare the ratios, not the absolute numbers)"
	python3 ci/bench/report.py --results "$res" --table
fi
echo "demo: finished in $(( $(date +%s) - t0 ))s ($(vm_status_text $rc)); results in $res"
exit $rc
