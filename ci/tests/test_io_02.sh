#!/bin/bash
# fio read with verification: a pattern is written, then read back with
# sequential and random reads at several block sizes and checked.
# ZC_INJECT=corrupt corrupts the backing file between the two: the test
# must then fail (used to show that the harness can fail).
. "$(dirname "$0")/test_common.sh"
need fio targetcli
d=$ZC_TMP
truncate -s 64M "$d/backing"
zc_lun_create io02 64M user "$d/backing" || fail "LUN creation"
disk=$ZC_DISK
for bs in 4k 64k 1M; do
	zc_fio --name=w-$bs --filename="$disk" --rw=write --bs=$bs --size=16M \
		--iodepth=8 --verify=crc32c --do_verify=0 || fail "pattern write bs=$bs"
	if [ "${ZC_INJECT:-}" = corrupt ]; then
		log "ZC_INJECT=corrupt: overwriting 4 KiB of the backing file at 1 MiB"
		dd if=/dev/urandom of="$d/backing" bs=4k seek=256 count=1 conv=notrunc status=none
	fi
	for rw in read randread; do
		zc_fio --name=r-$bs-$rw --filename="$disk" --rw=$rw --bs=$bs --size=16M \
			--iodepth=8 --verify=crc32c --verify_fatal=1 \
			|| fail "read+verify $rw bs=$bs"
	done
	log "read+verify bs=$bs ok"
done
