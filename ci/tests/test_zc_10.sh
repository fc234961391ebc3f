#!/bin/bash
# Forward progress when bounce pages cannot be had (review F4), with the
# page allocations of tcmu_zc_bounce() failed by fail_page_alloc:
#  1. timeout: the daemon (handler_zctest "stall") sits on a zero-copied
#     WRITE for 6 s, cmd_time_out is 2. Series v3 could only time a
#     zero-copy command out after its bounce allocation succeeded and
#     retried forever: the command never timed out. Expected: it times out
#     at 2 s all the same, its buffer taken away (the daemon's late write
#     from it fails with EFAULT), and the initiator's retry succeeds.
#  2. KEEP_BUF: the daemon completes zero-copied WRITEs with KEEP_BUF
#     while the first bounces fail. v3 allocated them with __GFP_NOFAIL
#     under cmdr_lock (which fault injection never fails). Expected: a
#     command whose buffer cannot be kept fails with BUSY and is retried,
#     no kept buffer ever shows wrong data, every kept buffer is released
#     and unmapped, and the data on disk is right.
. "$(dirname "$0")/lib.sh"
need dd targetcli cmp
[ -e "$STACK_HANDLER_DIR/handler_zctest.so" ] || skip "handler_zctest.so not built"
d=$T_TMP
LIO_HANDLER=zctest
head -c 4M /dev/urandom > "$d/pattern"

# 1. timeout without memory for the bounce
truncate -s 16M "$d/stall"
LIO_PRE_ATTRS="cmd_time_out=2" lio_lun_create zc10a 16M user "stall+6000@$d/stall" \
	"hw_max_sectors=2048 control=zero_copy=1" || fail "LUN creation"
tcmu_has_zero_copy zc10a || skip "this kernel has no TCMU zero copy"
t_fault_inject fail_page_alloc tcmu_zc_bounce -1 Y
t0=$(date +%s)
timeout 120 dd if="$d/pattern" of="$LIO_DISK" bs=1M count=1 oflag=direct status=none 2>/dev/null &
ddpid=$!
for i in $(seq 1 100); do
	[ $(( $(t_noted "$d/stall" efault) + $(t_noted "$d/stall" late_ok) )) -ge 1 ] && break
	sleep 0.2
done
t_fault_off fail_page_alloc
wait $ddpid; ddrc=$?
ef=$(t_noted "$d/stall" efault) ok=$(t_noted "$d/stall" late_ok)
log "stalled WRITE: efault=$ef late_ok=$ok after $(( $(date +%s) - t0 )) s, dd status $ddrc"
log "zero_copy_stats: bounces=$(tcmu_zc_stat zc10a bounces) bounce_failed=$(tcmu_zc_stat zc10a bounce_failed)"
[ "$ok" -eq 0 ] || fail "the stalled command never timed out (its buffer was still there after 6 s)"
[ "$ef" -eq 1 ] || fail "the stalled command's late write did not fail"
[ "$(tcmu_zc_stat zc10a bounce_failed)" -ge 1 ] || fail "no bounce failed: nothing was tested"
[ "$ddrc" -eq 0 ] || timeout 60 dd if="$d/pattern" of="$LIO_DISK" bs=1M count=1 oflag=direct \
	status=none || fail "the WRITE does not succeed after the timeout"
cmp -n $((1 << 20)) "$d/pattern" "$d/stall" || fail "the file lacks the WRITE"
t_assert_window_empty zc10a "after the timeout"
lio_lun_delete || fail "LUN removal"

# 2. KEEP_BUF without memory for the bounce
truncate -s 16M "$d/keep"
lio_lun_create zc10b 16M user "keepbuf@$d/keep" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
t_fault_inject fail_page_alloc tcmu_zc_bounce 3 Y
timeout 300 dd if="$d/pattern" of="$LIO_DISK" bs=1M count=4 oflag=direct status=none ||
	fail "dd write with KEEP_BUF completions"
t_fault_off fail_page_alloc
# a last command releases the last kept buffer
dd if="$LIO_DISK" of=/dev/null bs=4k count=1 iflag=direct status=none || fail "dd read"
kept=$(t_noted "$d/keep" kept) freed=$(t_noted "$d/keep" freed)
bad=$(t_noted "$d/keep" keepbad) gone=$(t_noted "$d/keep" keepgone)
stale=$(t_noted "$d/keep" stale)
log "KEEP_BUF: kept=$kept freed=$freed bad=$bad gone=$gone stale=$stale"
log "zero_copy_stats: bounces=$(tcmu_zc_stat zc10b bounces) bounce_failed=$(tcmu_zc_stat zc10b bounce_failed)"
[ "$(tcmu_zc_stat zc10b bounce_failed)" -ge 1 ] ||
	fail "no KEEP_BUF bounce failed (an allocation that cannot fail ignores fault injection)"
[ "$bad" -eq 0 ] || fail "$bad kept buffer(s) held wrong data"
[ "$freed" -eq "$kept" ] || fail "$kept buffers kept, $freed released"
[ "$stale" -eq 0 ] || fail "$stale page(s) of released kept buffers still mapped"
cmp -n $((4 << 20)) "$d/pattern" "$d/keep" || fail "the file differs from what was written"
t_assert_window_empty zc10b "after releasing the kept buffers"
