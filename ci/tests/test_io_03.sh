#!/bin/bash
# Negative control: the verification the other tests rely on must notice
# corrupted data. A pattern is written through the LUN, the backing file
# is damaged behind the daemon's back, and the verifying read must fail.
. "$(dirname "$0")/lib.sh"
need fio targetcli
d=$T_TMP
truncate -s 32M "$d/backing"
lio_lun_create io03 32M user "$d/backing" || fail "LUN creation"
disk=$LIO_DISK
fio_run --name=w --filename="$disk" --rw=write --bs=64k --size=8M \
	--verify=crc32c --do_verify=0 || fail "pattern write"
fio_run --name=r --filename="$disk" --rw=read --bs=64k --size=8M \
	--verify=crc32c --verify_fatal=1 || fail "clean read+verify"
dd if=/dev/urandom of="$d/backing" bs=4k seek=300 count=1 conv=notrunc status=none
if fio_run --name=r2 --filename="$disk" --rw=read --bs=64k --size=8M \
	--verify=crc32c --verify_fatal=1 >/dev/null; then
	fail "fio verify did not notice a corrupted block"
fi
log "corruption detected as it should be"
