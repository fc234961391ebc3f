#!/bin/bash
# fio sequential write with verification on a TCMU LUN (zcfile handler),
# at several block sizes.
. "$(dirname "$0")/lib.sh"
need fio targetcli
d=$T_TMP
truncate -s 64M "$d/backing"
lio_lun_create io01 64M user "$d/backing" || fail "LUN creation"
disk=$LIO_DISK
for bs in 4k 64k 256k 1M; do
	size=8M; [ $bs = 4k ] && size=2M
	fio_run --name=wv-$bs --filename="$disk" --rw=write --bs=$bs --size=$size \
		--iodepth=4 --verify=crc32c --do_verify=1 --verify_fatal=1 \
		|| fail "write+verify at bs=$bs"
	log "write+verify bs=$bs ok"
done
