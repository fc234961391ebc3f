#!/bin/bash
# fio read with verification: a pattern is written, then read back with
# sequential and random reads at several block sizes and checked.
# T_INJECT=corrupt corrupts the backing file between the two: the test
# must then fail (used to show that the harness can fail).
. "$(dirname "$0")/lib.sh"
need fio targetcli
d=$T_TMP
truncate -s 64M "$d/backing"
lio_lun_create io02 64M user "$d/backing" || fail "LUN creation"
disk=$LIO_DISK
for bs in 4k 64k 1M; do
	size=8M; [ $bs = 4k ] && size=2M
	fio_run --name=w-$bs --filename="$disk" --rw=write --bs=$bs --size=$size \
		--iodepth=8 --verify=crc32c --do_verify=0 || fail "pattern write bs=$bs"
	if [ "${T_INJECT:-}" = corrupt ]; then
		log "T_INJECT=corrupt: overwriting 4 KiB of the backing file at 1 MiB"
		dd if=/dev/urandom of="$d/backing" bs=4k seek=256 count=1 conv=notrunc status=none
	fi
	for rw in read randread; do
		fio_run --name=r-$bs-$rw --filename="$disk" --rw=$rw --bs=$bs --size=$size \
			--iodepth=8 --verify=crc32c --verify_fatal=1 \
			|| fail "read+verify $rw bs=$bs"
	done
	log "read+verify bs=$bs ok"
done
