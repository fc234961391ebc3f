#!/bin/bash
# The special-insert microbenchmark: cost of lending N pages to userspace
# (vm_insert_pages_special() + unmap_special_mapping_range()) against a
# memcpy() of the N pages, N = 1..256, in the guest. See
# docs/special-insert-bench.md.
#
#   ci/bench/mm-bench.sh [-f plain|debug] [-u] [-n] [-p] [-- BENCH_ARGS...]
#     -f FLAVOR  kernel flavor (default plain; debug: KASAN/lockdep/DEBUG_VM,
#                a short run, for splats only: its times mean nothing)
#     -u         write the result into docs/special-insert-bench.md (between
#                its bench:begin/bench:end markers)
#     -n         do not build the kernel, use the last build
#     -p         do not build or run anything: write the last plain result
#                into the doc (as -u does)
#     BENCH_ARGS passed to special_insert_bench (-r rounds, -s samples,
#                -w warm-up samples, -k: lend alloc_page() pages)
#
# Environment: by default the patched tree (the benchmark is patch 0005) and
# its kernel build/kbuild/patched-FLAVOR. DEV_TREE (another kernel tree with the
# series) and VARIANT (object dir name, default mmbench) build elsewhere.
#
# One boot runs the kselftest mm/special_insert (it must pass) and then
# the benchmark; before it, the benchmark's modes on ordinary memory (-c)
# run on the host for comparison. Results in build/mmbench-out/run-FLAVOR/:
# selftest.tap, bench.md (the tables), bench.csv (every sample),
# host-calib.md, console.log.
# Exit status: vm-run.sh's (253: a kernel splat; see console.log).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}

# In the guest: ci/bench/mm-bench.sh --guest OUTDIR BINDIR [BENCH_ARGS...]
if [ "${1:-}" = --guest ]; then
	out=$2 bin=$3
	shift 3
	cd "$out"
	rc=0
	"$bin/special_insert" > selftest.tap 2>&1 || rc=$?
	tail -n 3 selftest.tap
	if [ $rc -ne 0 ]; then
		echo "mm-bench: the selftest failed ($rc); no benchmark" >&2
		exit 1
	fi
	"$bin/special_insert_bench" -o bench.csv "$@" > bench.md || exit 2
	cat bench.md
	exit 0
fi

flavor=plain update=0 build=1 publish=0
while getopts "f:unph" o; do
	case $o in
	f) flavor=$OPTARG ;;
	u) update=1 ;;
	n) build=0 ;;
	p) publish=1 update=1 ;;
	h) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) exit 125 ;;
	esac
done
shift $((OPTIND - 1))
case $flavor in
plain) bench_args=("$@") ;;
debug) bench_args=(-r 1 -s 4 -w 1 "$@") ;;
*) echo "mm-bench: unknown flavor '$flavor'" >&2; exit 125 ;;
esac

# The benchmark is patch 0005 of the series: by default use the patched tree
# and its object dir (no extra kernel build).
if [ -z "${DEV_TREE:-}" ] && [ -z "${VARIANT:-}" ]; then
	"$top/ci/kernel/kernel-tree.sh" >/dev/null
	src=$B/worktree/patched variant=patched
else
	src=${DEV_TREE:-$B/mmbench} variant=${VARIANT:-mmbench}
fi
out=$B/mmbench-out/run-$flavor
bin=$B/mmbench-out/bin
st=$src/tools/testing/selftests
[ -f "$st/mm/special_insert_bench.c" ] ||
	{ echo "mm-bench: $st/mm/special_insert_bench.c missing (DEV_TREE=$src)" >&2; exit 125; }

publish() {
	local doc=$top/docs/special-insert-bench.md tmp
	grep -q '^<!-- bench:begin -->$' "$doc" ||
		{ echo "mm-bench: no bench:begin marker in $doc" >&2; exit 1; }
	tmp=$(mktemp "$doc.XXXXXX")
	{
		sed -n '1,/^<!-- bench:begin -->$/p' "$doc"
		echo
		cat "$out/about"
		echo
		cat "$out/bench.md"
		echo
		echo "The modes on ordinary memory, natively on the host, right before the boot:"
		echo
		cat "$out/host-calib.md"
		echo
		sed -n '/^<!-- bench:end -->$/,$p' "$doc"
	} > "$tmp"
	mv "$tmp" "$doc"
	echo "mm-bench: updated $doc" >&2
}
if [ $publish -eq 1 ]; then
	publish
	exit 0
fi

if [ $build -eq 1 ]; then
	if [ "$variant" = patched ]; then
		kernel=$("$top/ci/kernel/build-kernel.sh" patched "$flavor")
	else
		kernel=$(DEV_TREE=$src "$top/ci/kernel/build-kernel.sh" "$variant" "$flavor")
	fi
else
	kernel=$B/kbuild/$variant-$flavor/arch/x86/boot/bzImage
fi
# As ci/kernel/build-selftests.sh builds them.
mkdir -p "$bin" "$out"
gcc -O2 -g -Wall -I "$st" -o "$bin/special_insert" "$st/mm/special_insert.c"
gcc -O2 -g -Wall -I "$st" -o "$bin/special_insert_bench" "$st/mm/special_insert_bench.c"
rm -f "$out"/selftest.tap "$out"/bench.md "$out"/bench.csv "$out"/host-calib.md
echo "Run of $(date -u '+%Y-%m-%d %H:%M') UTC; host: $(nproc) CPUs, load average" \
	"$(cut -d' ' -f1-3 /proc/loadavg) at the start (shared machine); guest: QEMU TCG," \
	"2 vCPUs; kernel $(git -C "$src" log -1 --format='%h (%s)'), $flavor;" \
	"special_insert_bench ${bench_args[*]:-(default options)}." > "$out/about"
"$bin/special_insert_bench" -c "${bench_args[@]}" > "$out/host-calib.md" 2>/dev/null
rc=0
"$top/ci/vm/vm-run.sh" -k "$kernel" -m 2G -t 3000 -o "$out" -l "$out/console.log" \
	-- "$here/mm-bench.sh" --guest "$out" "$bin" "${bench_args[@]}" || rc=$?
echo "mm-bench: vm-run status $rc; results in $out" >&2
[ $rc -eq 0 ] || exit $rc

[ $update -eq 0 ] || publish
