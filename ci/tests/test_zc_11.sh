#!/bin/bash
# A daemon's legitimate stores into a data-in buffer after its PTEs were
# write-protected under it (review F5). handler_zctest maps a zero-copied
# READ's buffer (one load), then
#  1. mprotect()s the whole device map read-only and back (clean writable
#     special PTEs come back read-only: only dirty ones are made writable
#     again), or
#  2. writes 4 to /proc/self/clear_refs (soft-dirty tracking write-protects
#     every PTE),
# and then fills the buffer with plain stores. Series v3's ->pfn_mkwrite
# raised SIGBUS for every store to a read-only window PTE: a real daemon
# (and every LUN it serves) would die. Expected: the stores go through
# and are counted as written (the initiator reads the file's data, not
# zeroes); stores into data-out buffers are still refused (test_zc_03).
. "$(dirname "$0")/lib.sh"
need dd targetcli cmp
[ -e "$STACK_HANDLER_DIR/handler_zctest.so" ] || skip "handler_zctest.so not built"
d=$T_TMP
LIO_HANDLER=zctest
head -c 4M /dev/urandom > "$d/pattern"

for mode in mprotect clearrefs; do
	cp "$d/pattern" "$d/$mode"
	truncate -s 16M "$d/$mode"
	lio_lun_create "zc11$mode" 16M user "$mode@$d/$mode" \
		"hw_max_sectors=2048 control=zero_copy=1" || fail "$mode: LUN creation"
	tcmu_has_zero_copy "zc11$mode" || skip "this kernel has no TCMU zero copy"
	lio_attr_set "zc11$mode" zero_copy_data_in 1 || fail "$mode: zero_copy_data_in"
	rm -f "$d/back"
	dd if="$LIO_DISK" of="$d/back" bs=1M count=4 iflag=direct status=none ||
		log "$mode: dd read failed"
	st=$(t_noted "$d/$mode" stored) bus=$(t_noted "$d/$mode" sigbus)
	log "$mode: $st READ buffers filled after write-protection, $bus stores got SIGBUS"
	log "$mode: zero_copy_stats: zc_cmds=$(tcmu_zc_stat "zc11$mode" zc_cmds) mkwrite_allowed=$(tcmu_zc_stat "zc11$mode" mkwrite_allowed) mkwrite_denied=$(tcmu_zc_stat "zc11$mode" mkwrite_denied) zeroed_pages=$(tcmu_zc_stat "zc11$mode" zeroed_pages)"
	[ "$(t_noted "$d/$mode" mprotect_failed)" -eq 0 ] || fail "$mode: mprotect() failed"
	[ "$(t_noted "$d/$mode" clear_refs_failed)" -eq 0 ] ||
		fail "$mode: /proc/self/clear_refs refused 4 (CONFIG_MEM_SOFT_DIRTY?)"
	[ "$bus" -eq 0 ] || fail "$mode: $bus legitimate store(s) into a READ buffer got SIGBUS"
	[ "$st" -ge 4 ] || fail "$mode: only $st READ buffers were filled"
	[ "$(tcmu_zc_stat "zc11$mode" zc_cmds)" -ge 4 ] || fail "$mode: the READs were not zero-copied"
	cmp "$d/pattern" "$d/back" || fail "$mode: the initiator did not get the file's data"
	t_assert_window_empty "zc11$mode" "$mode"
	lio_lun_delete || fail "$mode: LUN removal"
done
