#!/bin/bash
# zcfile resize (the handler's reconfig): a new size written to the
# backstore's attrib/dev_size reaches the plugin through tcmu-runner; the
# backing file grows, the initiator sees the new capacity after a rescan,
# I/O in the new range verifies and the data written before is intact.
# A size that is not a multiple of the block size is refused (the write to
# dev_size fails) and changes nothing.
. "$(dirname "$0")/lib.sh"
need fio targetcli blockdev
d=$T_TMP
MiB=$((1024 * 1024))
truncate -s 16M "$d/backing"
lio_lun_create p07 16M user "$d/backing" || fail "LUN creation"
disk=$LIO_DISK
attr=$(lio_backstore_dir p07)/attrib/dev_size
head -c $((4 * MiB)) /dev/urandom > "$d/data"
dd if="$d/data" of="$disk" bs=1M oflag=direct status=none || fail "write"

echo $((32 * MiB)) > "$attr" || fail "dev_size=32M refused"
[ "$(stat -c %s "$d/backing")" -eq $((32 * MiB)) ] ||
	fail "backing file is $(stat -c %s "$d/backing") bytes, not grown to 32M"
echo 1 > "/sys/block/${disk#/dev/}/device/rescan" || fail "rescan"
size=$(blockdev --getsize64 "$disk")
[ "$size" -eq $((32 * MiB)) ] || fail "the initiator sees $size bytes after the rescan, not 32M"
log "resized 16M -> 32M: file and disk grown"
fio_run --name=end --filename="$disk" --rw=write --bs=64k --offset=16M --size=16M \
	--iodepth=4 --verify=crc32c --do_verify=1 --verify_fatal=1 || fail "write+verify in the new range"
dd if="$disk" of="$d/back" bs=1M count=4 iflag=direct status=none || fail "read back"
cmp "$d/data" "$d/back" || fail "data written before the resize changed"
log "new range verifies, old data intact"

if echo $((40 * MiB + 100)) > "$attr" 2>/dev/null; then
	fail "dev_size not in blocks was accepted"
fi
[ "$(stat -c %s "$d/backing")" -eq $((32 * MiB)) ] || fail "a refused resize changed the file"
grep -q "resize refused: bad LUN size $((40 * MiB + 100))" "$STACK_TCMU_LOG" ||
	fail "no 'resize refused' in tcmu-runner's log"
log "a size not in blocks refused: $(grep -h "resize refused" "$STACK_TCMU_LOG" | tail -n 1 | sed 's/^.* zcfile\/[^:]*: //')"
