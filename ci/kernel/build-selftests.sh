#!/bin/bash
# Build the kernel selftests the in-guest suite runs, from a kernel
# worktree, into build/selftests/VARIANT/. A test whose source is not in the
# tree (the base kernel) is not built; its in-guest wrapper then skips.
#
#   ci/build-selftests.sh base|patched
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
variant=${1:?usage: build-selftests.sh base|patched}
src=$B/worktree/$variant
out=$B/selftests/$variant
st=$src/tools/testing/selftests
mkdir -p "$out"
rm -f "$out"/*
# mm/special_insert: vm_insert_pages_special() and friends (patches 1-4).
if [ -f "$st/mm/special_insert.c" ]; then
	gcc -O2 -g -Wall -I "$st" -o "$out/special_insert" "$st/mm/special_insert.c"
fi
ls "$out"
