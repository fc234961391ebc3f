#!/bin/bash
# Zero copy against a misbehaving daemon (ci/tests/zctest/handler_zctest.c):
#  1. storeout: the daemon stores into a data-out buffer: the store faults
#     (SIGBUS, caught) and the file gets what the initiator sent.
#  2. untouched: the daemon completes READs GOOD without writing: the
#     initiator's buffer comes back zeroed, not with its old contents.
#     (On the copy path the initiator gets whatever the data area blocks
#     held, e.g. an earlier INQUIRY response: not checked here.)
#  3. badid: a completion with a cmd_id the kernel never issued is rejected
#     (ring marked broken), the command times out, the LUN is removable.
. "$(dirname "$0")/lib.sh"
need fio targetcli python3
[ -e "$REPO_TOP/build/handlers/handler_zctest.so" ] || skip "handler_zctest.so not built"
d=$T_TMP
LIO_HANDLER=zctest

# 1. storeout
head -c 8M /dev/urandom > "$d/pattern"
truncate -s 16M "$d/out"
lio_lun_create zc03a 16M user "storeout@$d/out" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
tcmu_has_zero_copy zc03a || skip "this kernel has no TCMU zero copy"
dd if="$d/pattern" of="$LIO_DISK" bs=1M count=8 oflag=direct status=none || fail "dd write"
sync
cmp -n $((8 << 20)) "$d/pattern" "$d/out" || fail "the file differs from what the initiator wrote"
nbus=$(cat "$d/out.sigbus" 2>/dev/null | wc -l)
nst=$(cat "$d/out.stored" 2>/dev/null | wc -l)
log "storeout: $nbus stores faulted, $nst went through, denied=$(tcmu_zc_stat zc03a mkwrite_denied)"
[ "$nst" -eq 0 ] || fail "$nst stores into data-out buffers went through"
[ "$nbus" -gt 0 ] || fail "no store was attempted on a zero-copied buffer"
lio_lun_delete || fail "LUN removal"

# 2. untouched
truncate -s 16M "$d/in"
lio_lun_create zc03b 16M user "untouched@$d/in" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
lio_attr_set zc03b zero_copy_data_in 1
python3 - "$LIO_DISK" <<'PY' || fail "untouched READ returned data the daemon did not write"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
# private anonymous memory: a shared one is shmem page cache, which is
# (rightly) not lent while it is not locked, and would be copied
buf = mmap.mmap(-1, 1 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, 4 << 20, 1 << 20):
    buf[:] = b"\xaa" * len(buf)
    n = os.preadv(fd, [buf], off)
    assert n == len(buf), n
    if buf[:] != bytes(len(buf)):
        print("# offset %d: %d non-zero bytes" % (off, len(buf) - buf[:].count(0)))
        sys.exit(1)
PY
z=$(tcmu_zc_stat zc03b zeroed_pages) n=$(tcmu_zc_stat zc03b zc_cmds)
log "untouched: zc_cmds=$n zeroed_pages=$z"
[ "$n" -ge 4 ] || fail "the READs were not zero-copied"
[ "$z" -ge 1024 ] || fail "expected >= 1024 zeroed pages, got $z"
lio_lun_delete || fail "LUN removal"

# 3. badid
truncate -s 16M "$d/bad"
LIO_PRE_ATTRS="cmd_time_out=3" lio_lun_create zc03c 16M user "badid@$d/bad" \
	"hw_max_sectors=2048 control=zero_copy=1" || fail "LUN creation"
if dd if="$d/pattern" of="$LIO_DISK" bs=1M count=1 oflag=direct status=none 2>/dev/null; then
	log "dd succeeded (the midlayer retried after the timeout)"
fi
dmesg | grep -q "not found, ring is broken" || fail "the bad completion was not rejected"
lio_lun_delete || fail "LUN removal after a broken ring"
