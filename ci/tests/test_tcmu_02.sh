#!/bin/bash
# Stock TCMU: a daemon that splits its mapping of the device (mprotect() of
# a part of it, read-only and back; munmap() and mremap() of a part do the
# same) must keep working. TCMU took the vm_pgoff of the piece for a uio
# map index and raised SIGBUS on every fault in a piece not starting at 0:
# handler_zctest ("split") makes everything from the data area on
# read-only and writable again before its first command, so the data area
# (and the zero-copy window) are in the second piece, and the unpatched
# kernel fails every I/O after it (the handler's reads and writes of new
# data area pages get EFAULT).
#  1. copy path (any kernel): fio write+verify
#  2. zero copy (patched kernel): the same on a LUN with a window
. "$(dirname "$0")/lib.sh"
need fio targetcli
[ -e "$STACK_HANDLER_DIR/handler_zctest.so" ] || skip "handler_zctest.so not built"
d=$T_TMP
LIO_HANDLER=zctest

truncate -s 32M "$d/copy"
lio_lun_create tcmu02a 32M user "split@$d/copy" || fail "LUN creation"
has_zc=; tcmu_has_zero_copy tcmu02a && has_zc=1
fio_run --name=copy --filename="$LIO_DISK" --rw=randwrite --bs=64k --size=8M --iodepth=4 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "copy path: I/O after the mapping was split"
[ "$(t_noted "$d/copy" split)" -eq 1 ] || fail "the handler did not split its mapping"
log "copy path: write+verify after the split ok"
lio_lun_delete || fail "LUN removal"

[ -n "$has_zc" ] || { log "SKIP: this kernel has no TCMU zero copy (part 2)"; exit 0; }
truncate -s 32M "$d/zc"
lio_lun_create tcmu02b 32M user "split@$d/zc" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
lio_attr_set tcmu02b zero_copy_data_in 1 || fail "zero_copy_data_in"
fio_run --name=zc --filename="$LIO_DISK" --rw=randwrite --bs=1M --size=16M --iodepth=4 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "zero copy: I/O after the mapping was split"
[ "$(t_noted "$d/zc" split)" -eq 1 ] || fail "the handler did not split its mapping"
log "zero copy: write+verify after the split ok, zc_cmds=$(tcmu_zc_stat tcmu02b zc_cmds)"
[ "$(tcmu_zc_stat tcmu02b zc_cmds)" -ge 16 ] || fail "the I/O was not zero-copied"
t_assert_window_empty tcmu02b "after the I/O"
