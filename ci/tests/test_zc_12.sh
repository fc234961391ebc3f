#!/bin/bash
# No stale and no lost mappings in the zero-copy window, through every way
# a command ends (review F2's invariant and F10):
#  1. completion: a LIVE command keeps its PTEs while other commands
#     complete around it. handler_zctest "twotouch" maps each buffer,
#     waits 30 ms with 16 mixed-size commands in flight, and counts pages
#     that went away. Series v3 unmapped one range per completion batch,
#     from the lowest to the highest command of the batch rounded down to
#     64 pages, taking LIVE neighbours' PTEs with it. After the I/O, no
#     page of the window is mapped.
#  2. KEEP_BUF: kept buffers stay readable after their command completed;
#     once released (action/free_kept_buf), no page of them is mapped.
#  3. ring reset (block_dev, reset_ring): every command's pages are gone
#     from the daemon at once, before any command is completed.
. "$(dirname "$0")/lib.sh"
need fio dd targetcli
[ -e "$STACK_HANDLER_DIR/handler_zctest.so" ] || skip "handler_zctest.so not built"
d=$T_TMP
LIO_HANDLER=zctest

# 1. completions around live commands
truncate -s 64M "$d/two"
lio_lun_create zc12a 64M user "twotouch+30@$d/two" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
tcmu_has_zero_copy zc12a || skip "this kernel has no TCMU zero copy"
lio_attr_set zc12a zero_copy_data_in 1 || fail "zero_copy_data_in"
fio_run --name=mix --filename="$LIO_DISK" --rw=randrw --bssplit=64k/30:192k/30:1m/40 \
	--size=48M --io_size=64M --iodepth=16 --verify=crc32c --verify_fatal=1 --do_verify=1 ||
	fail "fio verify with mixed sizes"
lost=$(t_noted "$d/two" lost)
log "zero_copy_stats: zc_cmds=$(tcmu_zc_stat zc12a zc_cmds) faults=$(tcmu_zc_stat zc12a faults) unmap_calls=$(tcmu_zc_stat zc12a unmap_calls); pages lost by live commands: $lost"
[ "$lost" -eq 0 ] || fail "$lost page(s) of live commands were unmapped by other completions"
t_assert_window_empty zc12a "after completions"
lio_lun_delete || fail "LUN removal"

# 2. KEEP_BUF
truncate -s 16M "$d/keep"
head -c 4M /dev/urandom > "$d/pattern"
lio_lun_create zc12b 16M user "keepbuf@$d/keep" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
dd if="$d/pattern" of="$LIO_DISK" bs=1M count=4 oflag=direct status=none || fail "dd write"
dd if="$LIO_DISK" of=/dev/null bs=4k count=1 iflag=direct status=none || fail "dd read"
kept=$(t_noted "$d/keep" kept) freed=$(t_noted "$d/keep" freed)
log "KEEP_BUF: kept=$kept freed=$freed bad=$(t_noted "$d/keep" keepbad) gone=$(t_noted "$d/keep" keepgone) stale=$(t_noted "$d/keep" stale) bounces=$(tcmu_zc_stat zc12b bounces)"
[ "$kept" -ge 4 ] && [ "$freed" -eq "$kept" ] || fail "$kept buffers kept, $freed released"
[ "$(t_noted "$d/keep" keepbad)" -eq 0 ] || fail "a kept buffer held wrong data"
[ "$(t_noted "$d/keep" keepgone)" -eq 0 ] || fail "a kept buffer was taken away"
[ "$(t_noted "$d/keep" stale)" -eq 0 ] || fail "pages of released kept buffers still mapped"
cmp -n $((4 << 20)) "$d/pattern" "$d/keep" || fail "the file differs from what was written"
t_assert_window_empty zc12b "after releasing kept buffers"
lio_lun_delete || fail "LUN removal"

# 3. ring reset with mapped buffers
truncate -s 64M "$d/reset"
LIO_PRE_ATTRS="cmd_time_out=0" lio_lun_create zc12c 64M user "twotouch+4000@$d/reset" \
	"hw_max_sectors=2048 control=zero_copy=1" || fail "LUN creation"
cleanup_push "stack_alive || stack_start_runner"
fio_background "$LIO_DISK" 20 4
sleep 2
bs=$(lio_backstore_dir zc12c)
before=$(t_window_mapped zc12c)
echo 1 > "$bs/action/block_dev" && echo 2 > "$bs/action/reset_ring" ||
	fail "block_dev/reset_ring"
after=$(t_window_mapped zc12c)
echo 0 > "$bs/action/block_dev"
log "ring reset: $before window page(s) mapped before, $after after"
[ "$before" -gt 0 ] || fail "no buffer was mapped when the ring was reset: nothing was tested"
[ "$after" -eq 0 ] || fail "$after page(s) still mapped after the ring reset"
# The handler threads still complete the commands the reset took away
# (the ring breaks on the unknown cmd_ids): tcmu-runner goes, the next one
# reopens the device cleanly, and fails what was queued meanwhile.
stack_stop_runner
stack_start_runner || fail "tcmu-runner did not restart"
kill "$FIO_BG_PID" 2>/dev/null; wait "$FIO_BG_PID" 2>/dev/null
fio_run --name=after --filename="$LIO_DISK" --rw=write --bs=1M --size=8M --iodepth=2 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "write+verify after the reset"
t_assert_window_empty zc12c "after the reset and new I/O"
