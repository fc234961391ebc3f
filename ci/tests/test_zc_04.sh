#!/bin/bash
# Debian's own qcow handler (tcmu-runner 1.5.4, unmodified) on a zero-copy
# LUN: fio write+verify at 64k and 1M, read+verify, and the daemon never
# stores into a data-out buffer (mkwrite_denied stays 0).
. "$(dirname "$0")/lib.sh"
need fio targetcli qemu-img
[ -e "$REPO_TOP/build/handlers/handler_qcow.so" ] || skip "Debian's handler_qcow.so is not installed"
d=$T_TMP
# qcow allocates clusters with fallocate(FALLOC_FL_ZERO_RANGE), which tmpfs
# lacks: keep the image on ext4, on an in-kernel ramdisk LUN.
lio_lun_create zc04fs 160M ramdisk || fail "ramdisk LUN for the image"
mkfs.ext4 -q -F "$LIO_DISK" || fail "mkfs.ext4"
mkdir -p "$d/fs" && mount "$LIO_DISK" "$d/fs" || fail "mount"
cleanup_push "umount '$d/fs'"
qemu-img create -q -f qcow2 "$d/fs/disk.qcow2" 64M || fail "qemu-img create"
d=$d/fs
LIO_HANDLER=qcow
lio_lun_create zc04 64M user "$d/disk.qcow2" "hw_max_sectors=2048 control=zero_copy=1" ||
	fail "LUN creation"
tcmu_has_zero_copy zc04 || skip "this kernel has no TCMU zero copy"
lio_attr_set zc04 zero_copy_data_in 1
for bs in 64k 1M; do
	fio_run --name=q-$bs --filename="$LIO_DISK" --rw=randwrite --bs=$bs --size=8M \
		--iodepth=4 --verify=crc32c --do_verify=1 --verify_fatal=1 ||
		fail "qcow write+verify at bs=$bs"
	fio_run --name=qr-$bs --filename="$LIO_DISK" --rw=randwrite --bs=$bs --size=8M \
		--iodepth=4 --verify=crc32c --verify_only=1 --verify_fatal=1 ||
		fail "qcow read+verify at bs=$bs"
	log "qcow bs=$bs ok"
done
z=$(tcmu_zc_stat zc04 zc_cmds) den=$(tcmu_zc_stat zc04 mkwrite_denied) sb=$(tcmu_zc_stat zc04 fault_sigbus)
log "qcow: zc_cmds=$z mkwrite_denied=$den fault_sigbus=$sb"
[ "$z" -gt 0 ] || fail "nothing was zero-copied"
[ "$den" -eq 0 ] && [ "$sb" -eq 0 ] || fail "the qcow handler faulted on window buffers"
