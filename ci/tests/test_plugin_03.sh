#!/bin/bash
# zcfile with zero copy: the LUN is created with control=zero_copy=1 and
# the fio verify suite runs with zero copy on (data-out only, then data-in
# too) and off on the same LUN, buffered and with O_DIRECT backing-file
# I/O. With zero copy the data-out iovecs are read-only special PTEs: a
# store by the daemon would kill it, and O_DIRECT from them cannot pin
# them (EEXIST from GUP for special PTEs in a VM_MIXEDMAP vma), which the
# plugin must detect and serve through the page cache.
# Skips (with the reason) on a kernel without the zero-copy window.
. "$(dirname "$0")/lib.sh"
need fio targetcli mkfs.ext4 losetup
d=$T_TMP
CREATE="hw_max_sectors=2048 control=zero_copy=1"

truncate -s 200M "$d/ext4.img"
loopdev=$(losetup -f --show "$d/ext4.img") || skip "no loop device"
cleanup_push "losetup -d $loopdev"
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$loopdev" || fail "mkfs.ext4"
mkdir "$d/mnt"
mount "$loopdev" "$d/mnt" || fail "mount ext4"
cleanup_push "umount $d/mnt"

verify_suite() { # what
	local bs
	for bs in 64k 1M; do
		fio_run --name=wv --filename="$disk" --rw=randwrite --bs=$bs --size=4M \
			--iodepth=8 --verify=crc32c --do_verify=1 --verify_fatal=1 ||
			fail "$1: write+verify bs=$bs"
		fio_run --name=rv --filename="$disk" --rw=read --bs=$bs --size=4M \
			--iodepth=8 --verify=crc32c --verify_fatal=1 ||
			fail "$1: read+verify bs=$bs"
	done
	pgrep -x tcmu-runner >/dev/null || fail "$1: tcmu-runner died"
}

for direct in 0 1; do
	name=p03d$direct
	if [ $direct = 1 ]; then backing=$d/mnt/backing; else backing=$d/backing; fi
	truncate -s 48M "$backing"
	lio_lun_create "$name" 48M user "$backing;direct=$direct" "$CREATE" ||
		fail "LUN creation (direct=$direct)"
	disk=$LIO_DISK
	tcmu_has_zero_copy "$name" ||
		skip "kernel $(uname -r) has no TCMU zero copy (no attrib/zero_copy)"
	[ "$(cat "$(lio_backstore_dir "$name")/attrib/zero_copy")" = 1 ] ||
		fail "control=zero_copy=1 did not enable zero copy"

	for mode in on data_in off; do
		case $mode in
		on)      lio_attr_set "$name" zero_copy 1; lio_attr_set "$name" zero_copy_data_in 0 ;;
		data_in) lio_attr_set "$name" zero_copy 1; lio_attr_set "$name" zero_copy_data_in 1 ;;
		off)     lio_attr_set "$name" zero_copy 0 ;;
		esac
		zc0=$(tcmu_zc_stat "$name" zc_cmds)
		cp0=$(tcmu_zc_stat "$name" copy_cmds)
		verify_suite "direct=$direct zero_copy=$mode"
		zc1=$(tcmu_zc_stat "$name" zc_cmds)
		cp1=$(tcmu_zc_stat "$name" copy_cmds)
		log "direct=$direct zero_copy=$mode: verify ok; zc_cmds +$((zc1 - zc0)), copy_cmds +$((cp1 - cp0))"
		if [ $mode = off ]; then
			[ "$zc1" -eq "$zc0" ] || fail "zero_copy=0 but commands were zero-copied"
		else
			[ "$zc1" -gt "$zc0" ] || fail "zero_copy=1 but no command was zero-copied"
		fi
	done
	log "zero_copy_stats: $(tr '\n' ' ' < "$(lio_backstore_dir "$name")/attrib/zero_copy_stats")"
	lio_lun_delete || fail "LUN deletion"
	log "plugin counters: $(t_plugin_closing "$backing")"
	if [ $direct = 1 ]; then
		# Zero-copied WRITEs cannot be pinned: each one fell back.
		[ "$(t_plugin_stat "$backing" pin_fallbacks)" -gt 0 ] ||
			fail "direct=1 under zero copy, yet no pin fallback was counted"
	fi
done
