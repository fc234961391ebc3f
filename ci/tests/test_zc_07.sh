#!/bin/bash
# Zero copy when a command id cannot be allocated (review F1): xa_alloc()
# in queue_cmd_ring() fails (failslab, aimed at queue_cmd_ring() by its
# stack filter) for zero-copied WRITEs. Series v3 dereferenced the NULL
# dbi array of the zero-copy command there (oops with cmdr_lock held, LUN
# wedged). Expected: the command fails with TASK SET FULL and is retried
# by the initiator, the window slots are given back, the data is right,
# the LUN keeps working.
. "$(dirname "$0")/lib.sh"
need fio targetcli dd cmp
d=$T_TMP
truncate -s 64M "$d/backing"
lio_lun_create zc07 64M user "$d/backing" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
tcmu_has_zero_copy zc07 || skip "this kernel has no TCMU zero copy"
head -c 8M /dev/urandom > "$d/pattern"

# One 1 MiB WRITE at a time: the command xarray is empty between them,
# so every command needs a new xarray node (GFP_NOWAIT), which fails.
times=6
t_fault_inject failslab queue_cmd_ring $times
n0=$(dmesg | wc -l)
timeout 300 dd if="$d/pattern" of="$LIO_DISK" bs=1M count=8 oflag=direct status=none ||
	fail "dd write under failed command id allocations"
t_fault_off failslab
inj=$(t_fault_count failslab $times)
ids=$(dmesg | tail -n +$((n0 + 1)) | grep -c "Could not allocate cmd id")
log "failslab failed $inj allocation(s) in queue_cmd_ring(); 'Could not allocate cmd id' $ids time(s)"
[ "$inj" -gt 0 ] || fail "no allocation failed: nothing was tested"
[ "$ids" -gt 0 ] || fail "the failed allocations were not xa_alloc()'s"
log "zero_copy_stats: zc_cmds=$(tcmu_zc_stat zc07 zc_cmds) copy_cmds=$(tcmu_zc_stat zc07 copy_cmds)"
[ "$(tcmu_zc_stat zc07 zc_cmds)" -ge 8 ] || fail "the WRITEs were not zero-copied"

dd if="$LIO_DISK" of="$d/back" bs=1M count=8 iflag=direct status=none || fail "dd read back"
cmp "$d/pattern" "$d/back" || fail "data read back differs from what was written"
cmp -n $((8 << 20)) "$d/pattern" "$d/backing" || fail "the backing file differs"
t_assert_window_empty zc07 "after the failed allocations"
# The window slots of the failed commands were given back: a full-window
# workload still zero-copies.
fio_run --name=after --filename="$LIO_DISK" --rw=randwrite --bs=1M --size=32M --iodepth=8 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "write+verify afterwards"
log "write+verify afterwards ok, copy_window_full=$(tcmu_zc_stat zc07 copy_window_full)"
t_assert_window_empty zc07 "after write+verify"
