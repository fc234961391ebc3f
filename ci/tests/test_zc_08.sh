#!/bin/bash
# A bounced buffer faulted in while it is released (review F2). The
# daemon (handler_zctest "race") keeps a zero-copied WRITE past
# cmd_time_out, so the kernel bounces its data into TCMU's own pages and
# fails the command; a second daemon thread keeps faulting those pages in
# (MADV_DONTNEED, then a load per page) while the handler completes the
# command late, which releases the bounce pages. Series v3 installed the
# bounce page's PTE after dropping cmdr_lock, so a fault racing with the
# release left a mapping of a freed (refcount-held) page in the window,
# which the next command in that slot would silently use. The handler
# thread counts, after its first SIGBUS (range released), the pages of
# the buffer still mapped: there must be none, and none of the window may
# be mapped in tcmu-runner once everything completed.
. "$(dirname "$0")/lib.sh"
need dd targetcli
[ -e "$STACK_HANDLER_DIR/handler_zctest.so" ] || skip "handler_zctest.so not built"
d=$T_TMP
LIO_HANDLER=zctest
iters=${ZC08_ITERS:-12}
truncate -s 16M "$d/race"
head -c 1M /dev/urandom > "$d/pattern"
LIO_PRE_ATTRS="cmd_time_out=1" lio_lun_create zc08 16M user "race+$iters@$d/race" \
	"hw_max_sectors=2048 control=zero_copy=1" || fail "LUN creation"
tcmu_has_zero_copy zc08 || skip "this kernel has no TCMU zero copy"

# One race per 1 MiB WRITE the handler sees (a timed-out WRITE comes back
# as the initiator's retry), until it has run $iters of them.
end=$(( $(date +%s) + 300 ))
while [ "$(t_noted "$d/race" started)" -lt "$iters" ] && [ "$(date +%s)" -lt $end ]; do
	timeout 120 dd if="$d/pattern" of="$LIO_DISK" bs=1M count=1 oflag=direct status=none \
		2>/dev/null
done
while [ $(( $(t_noted "$d/race" released) + $(t_noted "$d/race" unreleased) )) -lt \
	"$(t_noted "$d/race" started)" ] && [ "$(date +%s)" -lt $((end + 60)) ]; do
	sleep 0.5
done
rel=$(t_noted "$d/race" released) unrel=$(t_noted "$d/race" unreleased)
stale=$(t_noted "$d/race" stale)
log "races: $(t_noted "$d/race" started) started, $rel saw the release, $unrel did not within 10 s, stale pages: $stale"
log "zero_copy_stats: zc_cmds=$(tcmu_zc_stat zc08 zc_cmds) bounces=$(tcmu_zc_stat zc08 bounces) faults=$(tcmu_zc_stat zc08 faults)"
[ "$rel" -ge $((iters / 2)) ] || fail "only $rel of $iters races saw the release"
[ "$(tcmu_zc_stat zc08 bounces)" -ge 1 ] || fail "no buffer was bounced"
[ "$stale" -eq 0 ] || fail "$stale page(s) stayed mapped after their command was released"
t_assert_window_empty zc08 "after the races"
