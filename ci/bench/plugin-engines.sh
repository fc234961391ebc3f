#!/bin/bash
# `make bench-plugin`, in the guest (ci/vm/vm-run.sh -k IMG -- ci/bench/plugin-engines.sh).
# Benchmark (never pass/fail on numbers; fails only if fio fails):
# sequential fio throughput through zcfile LUNs, one boot, for each
# backing engine (io_uring depth 16, 8 worker threads, and 1 worker thread
# = a daemon that serialises its commands), at initiator queue depths 1
# and 16, writes and reads, with zero copy off (zc=0) and, on kernels that
# have it, on for data-out (zc=1: WRITEs) and for data-in too (zc=in:
# READs as well, attribute zero_copy_data_in), toggled on the same LUN.
#
# Method: tcm_loop LUN, 64 MiB backing file on tmpfs (page cache, so the
# copy, not a disk, is what is measured), fio libaio O_DIRECT on the SCSI
# disk, bs=256k, 4 s time_based per point after a 1 s ramp, reads of a
# region written beforehand. Results go to stdout and to
# build/vmout/plugin-engines-<kernel>.txt (BENCH_OUT=FILE: elsewhere).
# BENCH_RUNTIME: seconds per point (4). Under QEMU TCG absolute numbers
# are meaningless; compare ratios within one run.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vm/lib.sh"
. "$here/../vm/stack.sh"
log() { echo "# $*"; }
fail() { log "FAIL: $*"; exit 1; }
for t in fio targetcli python3; do command -v $t >/dev/null || fail "$t not installed"; done
trap cleanup_run EXIT
d=$(mktemp -d /tmp/bench.XXXXXX) || fail "mktemp"
cleanup_push "rm -rf '$d'"
FIO_JSON=$d/fio.json
stack_start || fail "tcmu-runner did not start"
cleanup_push stack_stop
RT=${BENCH_RUNTIME:-4}
out=${BENCH_OUT:-$REPO_TOP/build/vmout/plugin-engines-$(uname -r).txt}
touch "$out" 2>/dev/null || out=$d/bench.txt
{
	echo "# zcfile fio throughput, kernel $(uname -r), $(date -u +%FT%TZ)"
	echo "# bs=256k seq, ${RT}s per point, tcm_loop, 64M tmpfs backing; MiB/s"
	echo "# zc: 0 zero copy off, 1 on (WRITEs), in on for READs too (zero_copy_data_in)"
	printf '%-10s %-6s %-6s %-5s %8s\n' engine rw iodepth zc MiB/s
} > "$out"

zc_modes=0
n=0
for cfg in "uring:16" "threads:8" "threads:1"; do
	engine=${cfg%%:*} depth=${cfg##*:}
	n=$((n + 1))
	name=p06$n
	truncate -s 64M "$d/backing$n"
	lio_lun_create "$name" 64M user "$d/backing$n;engine=$engine;depth=$depth" \
		"hw_max_sectors=2048 control=zero_copy=1" || fail "LUN creation ($cfg)"
	disk=$LIO_DISK
	if tcmu_has_zero_copy "$name"; then zc_modes="0 1 in"; fi
	fio_run --name=fill --filename="$disk" --rw=write --bs=1M --size=64M --iodepth=4 ||
		fail "fill"
	for zc in $zc_modes; do
		if tcmu_has_zero_copy "$name"; then
			lio_attr_set "$name" zero_copy $([ "$zc" = 0 ] && echo 0 || echo 1)
			lio_attr_set "$name" zero_copy_data_in $([ "$zc" = in ] && echo 1 || echo 0)
		fi
		for rw in write read; do
			for qd in 1 16; do
				bw=$(fio_bw --name=b --filename="$disk" --rw=$rw --bs=256k --size=64M \
					--iodepth=$qd --time_based=1 --runtime="$RT" --ramp_time=1) ||
					fail "fio $engine $rw qd=$qd zc=$zc"
				printf '%-10s %-6s %-6s %-5s %8s\n' "$engine/$depth" $rw $qd $zc "$bw" | tee -a "$out" |
					sed 's/^/# bench: /'
			done
		done
	done
	lio_lun_delete || fail "LUN deletion"
done
[ "$zc_modes" = 0 ] && log "zero copy on: not measured, kernel $(uname -r) has no attrib/zero_copy"
log "results in $out"
