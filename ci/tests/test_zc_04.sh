#!/bin/bash
# Debian's own qcow handler (tcmu-runner 1.5.4, unmodified) on a zero-copy
# LUN: fio write+verify at 64k and 1M, read+verify, and the daemon never
# stores into a data-out buffer (mkwrite_denied stays 0).
. "$(dirname "$0")/test_common.sh"
need fio targetcli qemu-img
[ -e "$ZC_TOP/build/handlers/handler_qcow.so" ] || skip "Debian's handler_qcow.so is not installed"
d=$ZC_TMP
# qcow allocates clusters with fallocate(FALLOC_FL_ZERO_RANGE), which tmpfs
# lacks: keep the image on ext4, on an in-kernel ramdisk LUN.
zc_lun_create zc04fs 160M ramdisk || fail "ramdisk LUN for the image"
mkfs.ext4 -q -F "$ZC_DISK" || fail "mkfs.ext4"
mkdir -p "$d/fs" && mount "$ZC_DISK" "$d/fs" || fail "mount"
zc_cleanup_push "umount '$d/fs'"
qemu-img create -q -f qcow2 "$d/fs/disk.qcow2" 64M || fail "qemu-img create"
d=$d/fs
ZC_HANDLER=qcow
zc_lun_create zc04 64M user "$d/disk.qcow2" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
zc_has_zero_copy zc04 || skip "this kernel has no TCMU zero copy"
zc_attr_set zc04 zero_copy_data_in 1
for bs in 64k 1M; do
	zc_fio --name=q-$bs --filename="$ZC_DISK" --rw=randwrite --bs=$bs --size=16M \
		--iodepth=4 --verify=crc32c --do_verify=1 --verify_fatal=1 ||
		fail "qcow write+verify at bs=$bs"
	zc_fio --name=qr-$bs --filename="$ZC_DISK" --rw=randwrite --bs=$bs --size=16M \
		--iodepth=4 --verify=crc32c --verify_only=1 --verify_fatal=1 ||
		fail "qcow read+verify at bs=$bs"
	log "qcow bs=$bs ok"
done
z=$(zc_zc_stat zc04 zc_cmds) den=$(zc_zc_stat zc04 mkwrite_denied) sb=$(zc_zc_stat zc04 fault_sigbus)
log "qcow: zc_cmds=$z mkwrite_denied=$den fault_sigbus=$sb"
[ "$z" -gt 0 ] || fail "nothing was zero-copied"
[ "$den" -eq 0 ] && [ "$sb" -eq 0 ] || fail "the qcow handler faulted on window buffers"
