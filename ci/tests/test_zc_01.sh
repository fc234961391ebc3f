#!/bin/bash
# Zero copy on a zcfile LUN: fio write+verify and read+verify at 4k, 64k,
# 256k and 1M plus a mixed random job, and the statistics split: large
# aligned I/O zero-copied, I/O below zero_copy_min_size copied.
. "$(dirname "$0")/lib.sh"
need fio targetcli
d=$T_TMP
truncate -s 128M "$d/backing"
lio_lun_create zc01 128M user "$d/backing" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
tcmu_has_zero_copy zc01 || skip "this kernel has no TCMU zero copy"
disk=$LIO_DISK
lio_attr_set zc01 zero_copy_data_in 1 || fail "zero_copy_data_in"
[ "$(cat "$(lio_backstore_dir zc01)/attrib/zero_copy")" = 1 ] || fail "zero_copy is not on"
min=$(cat "$(lio_backstore_dir zc01)/attrib/zero_copy_min_size")
log "zero_copy_min_size=$min"

for bs in 4k 64k 256k 1M; do
	size=8M; [ $bs = 4k ] && size=2M
	fio_run --name=wv-$bs --filename="$disk" --rw=write --bs=$bs --size=$size \
		--iodepth=8 --verify=crc32c --do_verify=1 --verify_fatal=1 ||
		fail "write+verify at bs=$bs"
	# read back what was written in a separate pass (data-in zero copy)
	fio_run --name=rv-$bs --filename="$disk" --rw=read --bs=$bs --size=$size \
		--iodepth=8 --verify=crc32c --verify_only=1 --verify_fatal=1 ||
		fail "read+verify at bs=$bs"
	log "write+verify, read+verify bs=$bs ok"
done
fio_run --name=mixed --filename="$disk" --rw=randrw --bssplit=4k/40:64k/20:256k/20:1M/20 \
	--size=16M --io_size=16M --iodepth=16 --verify=crc32c --verify_fatal=1 \
	--verify_backlog=64 || fail "mixed random write+verify"
log "mixed random ok"

for k in zc_cmds zc_bytes copy_cmds copy_too_small copy_not_data_cdb faults fault_pages \
	fault_sigbus mkwrite_denied bounces unmap_calls zeroed_pages; do
	eval "s_$k=$(tcmu_zc_stat zc01 $k)"
	log "stat $k=$(tcmu_zc_stat zc01 $k)"
done
[ "$s_zc_cmds" -gt 0 ] || fail "no command was zero-copied"
[ "$s_copy_too_small" -gt 0 ] || fail "4k I/O was not copied as too_small"
[ "$s_faults" -gt 0 ] && [ "$s_fault_pages" -gt 0 ] || fail "no window faults"
[ "$s_fault_sigbus" -eq 0 ] || fail "the daemon took $s_fault_sigbus SIGBUS faults"
[ "$s_mkwrite_denied" -eq 0 ] || fail "zcfile stored into data-out buffers"
[ "$s_bounces" -eq 0 ] || fail "$s_bounces unexpected bounces"
# every 1M and 256k command qualifies: at least the sequential ones went zc
[ "$s_zc_bytes" -ge $((4 * 8 * 1024 * 1024)) ] || fail "only $s_zc_bytes bytes zero-copied"
