#!/bin/bash
# In-guest part of `make demo`: serve a zcfile LUN backed by a file on
# tmpfs through tcm_loop and run fio 1 MiB sequential write and read on it,
# with zero copy off (the copy path) and, when the kernel offers it, on.
# Results go to stdout and, as JSON lines, to $1 if given.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/test_common.sh"
. "$here/stack.sh"
out=${1:-/dev/null}
: > "$out"
SIZE=${DEMO_SIZE:-256M} RUNTIME=${DEMO_RUNTIME:-10}

stack_start || exit 1
zc_cleanup_push stack_stop
truncate -s "$SIZE" "$ZC_TMP/backing"
# control=zero_copy=1 gives the device its zero-copy window (it must exist
# before the device is enabled; a kernel without zero copy ignores the
# option); zero copy itself is switched per run below.
zc_lun_create demo "$SIZE" user "$ZC_TMP/backing" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
bsdir=$(zc_backstore_dir demo)
# Fill the LUN once so reads hit allocated tmpfs pages.
dd if=/dev/zero of="$ZC_DISK" bs=1M count=$(( $(blockdev --getsize64 "$ZC_DISK") >> 20 )) \
	oflag=direct status=none || fail "fill"

modes=(copy)
if [ -e "$bsdir/attrib/zero_copy" ]; then
	modes+=(zerocopy)
else
	log "this kernel has no TCMU zero copy (no attrib/zero_copy): copy path only"
fi

run() { # mode rw
	local mode=$1 rw=$2
	fio --output-format=json --name="$mode-$rw" --filename="$ZC_DISK" --ioengine=libaio \
		--direct=1 --rw="$rw" --bs=1M --iodepth=8 --size="$SIZE" \
		--time_based --runtime="$RUNTIME" --ramp_time=2 |
		python3 "$here/fio_summary.py" --label "$mode" >> "$out" || fail "fio $mode $rw"
}
for mode in "${modes[@]}"; do
	if [ "$mode" = zerocopy ]; then
		echo 1 > "$bsdir/attrib/zero_copy" || fail "cannot enable zero copy"
		# READs too (the daemon then sees the initiator's buffer before it
		# fills it; root only)
		echo 1 > "$bsdir/attrib/zero_copy_data_in" || fail "cannot enable zero copy for READs"
	elif [ -e "$bsdir/attrib/zero_copy" ]; then
		echo 0 > "$bsdir/attrib/zero_copy"
	fi
	declare -A before=()
	for k in zc_cmds zc_bytes copy_cmds copy_bytes; do before[$k]=$(zc_zc_stat demo $k); done
	run "$mode" write
	run "$mode" read
	if [ -e "$bsdir/attrib/zero_copy_stats" ]; then
		line=
		for k in zc_cmds zc_bytes copy_cmds copy_bytes; do
			line="$line $k=$(( $(zc_zc_stat demo $k) - ${before[$k]} ))"
		done
		log "$mode runs, TCMU zero_copy_stats deltas:$line"
	fi
done
echo
echo "fio, 1 MiB sequential, iodepth 8, ${RUNTIME}s per run, zcfile LUN on tmpfs via tcm_loop"
echo "(QEMU TCG: compare the ratios, not the absolute numbers)"
python3 "$here/fio_summary.py" --table < "$out"
