#!/bin/bash
# mkfs.ext4 on a TCMU LUN, fsck, a file written and read back across a
# remount, fsck again.
. "$(dirname "$0")/lib.sh"
need mkfs.ext4 fsck.ext4 targetcli
d=$T_TMP
truncate -s 128M "$d/backing"
lio_lun_create fs01 128M user "$d/backing" || fail "LUN creation"
disk=$LIO_DISK
mkfs.ext4 -q -F "$disk" || fail "mkfs.ext4"
fsck.ext4 -fn "$disk" >/dev/null 2>&1 || fail "fsck after mkfs"
mkdir -p "$d/mnt"
mount -t ext4 "$disk" "$d/mnt" || fail "mount"
cleanup_push "! mountpoint -q '$d/mnt' || umount '$d/mnt'"
dd if=/dev/urandom of="$d/data" bs=1M count=8 status=none
cp "$d/data" "$d/mnt/data" || fail "write file"
umount "$d/mnt" || fail "umount"
fsck.ext4 -fn "$disk" >/dev/null 2>&1 || fail "fsck after writing"
mount -t ext4 -o ro "$disk" "$d/mnt" || fail "remount"
cmp "$d/data" "$d/mnt/data" || fail "file differs after remount"
umount "$d/mnt"
log "ext4 round trip ok"
