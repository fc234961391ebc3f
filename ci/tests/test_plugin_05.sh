#!/bin/bash
# zcfile's SCSI semantics through the real stack: UNMAP (blkdiscard)
# punches a hole that reads back as zeroes, WRITE SAME with a pattern and
# with zeroes (+UNMAP), SYNCHRONIZE CACHE, a read past the end of a backing
# file truncated behind the daemon's back (zero-filled, no error), and a
# full file system (ENOSPC) returning DATA PROTECT / SPACE ALLOCATION
# FAILED WRITE PROTECT sense rather than an endless retry.
. "$(dirname "$0")/lib.sh"
need targetcli sg_raw sg_write_same sg_sync blkdiscard
d=$T_TMP
MiB=$((1024 * 1024))

# Compare LEN bytes of the disk at OFF with a file region: same DISK OFF LEN FILE [FOFF]
# (no process substitution: the guest has no /dev/fd)
# O_DIRECT reads must be aligned: read the enclosing 4 KiB blocks.
same() {
	local start=$(($2 / 4096 * 4096)) end=$((($2 + $3 + 4095) / 4096 * 4096))
	dd if="$1" of="$d/region" bs=64k iflag=direct,skip_bytes,count_bytes skip=$start \
		count=$((end - start)) status=none || return 1
	[ "$(stat -c %s "$d/region")" -eq $((end - start)) ] &&
		cmp -s -n "$3" -i "$(($2 - start)):${5:-0}" "$d/region" "$4"
}

truncate -s 32M "$d/backing"
lio_lun_create p05 32M user "$d/backing" || fail "LUN creation"
disk=$LIO_DISK
head -c $((8 * MiB)) /dev/urandom > "$d/data"
dd if="$d/data" of="$disk" bs=1M oflag=direct status=none || fail "write"
same "$disk" 0 $((8 * MiB)) "$d/data" || fail "data did not read back"

# UNMAP: 1 MiB at 2 MiB.
blocks0=$(stat -c %b "$d/backing")
blkdiscard -o $((2 * MiB)) -l $MiB "$disk" || fail "blkdiscard"
head -c $MiB /dev/zero > "$d/zero1m"
head -c $((2 * MiB)) /dev/zero > "$d/zero2m"
same "$disk" $((2 * MiB)) $MiB "$d/zero1m" || fail "unmapped range does not read back zeroes"
same "$disk" 0 $((2 * MiB)) "$d/data" && same "$disk" $((3 * MiB)) $((5 * MiB)) "$d/data" $((3 * MiB)) ||
	fail "data around the unmapped range changed"
blocks1=$(stat -c %b "$d/backing")
[ "$blocks1" -lt "$blocks0" ] || fail "no hole punched in the backing file ($blocks0 -> $blocks1 blocks)"
log "UNMAP: zeroes read back, backing file $blocks0 -> $blocks1 blocks"

# WRITE SAME(16) of a pattern block over 256 KiB at LBA 8192 (4 MiB).
head -c 512 /dev/urandom > "$d/pat"
cp "$d/pat" "$d/pat256k"
for i in $(seq 9); do cat "$d/pat256k" "$d/pat256k" > "$d/pat2" && mv "$d/pat2" "$d/pat256k"; done
sg_write_same --16 --lba=8192 --num=512 --in="$d/pat" "$disk" || fail "WRITE SAME"
same "$disk" $((4 * MiB)) $((256 * 1024)) "$d/pat256k" || fail "WRITE SAME pattern not on disk"
same "$disk" $((4 * MiB + 256 * 1024)) $MiB "$d/data" $((4 * MiB + 256 * 1024)) ||
	fail "WRITE SAME wrote past its range"
log "WRITE SAME: pattern written"

# WRITE SAME(16) of zeroes with UNMAP, aligned and not (tcmu-runner turns
# the aligned one into an unmap, the other into a write same).
head -c 512 /dev/zero > "$d/zblk"
sg_write_same --16 --unmap --lba=10240 --num=2048 --in="$d/zblk" "$disk" || fail "WRITE SAME UNMAP"
sg_write_same --16 --unmap --lba=12291 --num=13 --in="$d/zblk" "$disk" || fail "WRITE SAME UNMAP unaligned"
same "$disk" $((5 * MiB)) $MiB "$d/zero1m" || fail "WRITE SAME UNMAP range not zero"
same "$disk" $((12291 * 512)) $((13 * 512)) "$d/zero1m" || fail "unaligned WRITE SAME UNMAP range not zero"
same "$disk" $((12291 * 512 - 1536)) 1536 "$d/data" $((12291 * 512 - 1536)) &&
	same "$disk" $((12304 * 512)) 4096 "$d/data" $((12304 * 512)) ||
	fail "data next to the unaligned WRITE SAME changed"
pgrep -x tcmu-runner >/dev/null || fail "tcmu-runner died"
log "WRITE SAME UNMAP: zeroes, aligned and unaligned"

sg_sync "$disk" || fail "SYNCHRONIZE CACHE"
log "SYNCHRONIZE CACHE ok"

# Short backing file: truncated behind the daemon's back to 6 MiB + 1000.
truncate -s $((6 * MiB + 1000)) "$d/backing"
same "$disk" 0 $((6 * MiB + 1000)) "$d/backing" || fail "data before EOF changed"
same "$disk" $((6 * MiB + 1000)) $((2 * MiB - 1000)) "$d/zero2m" || fail "read past EOF not zero-filled"
log "read past the end of the backing file: zero-filled"
lio_lun_delete || fail "LUN deletion"

# ENOSPC: a 4 MiB file system under a 16 MiB LUN.
mkdir "$d/small"
mount -t tmpfs -o size=4M tmpfs "$d/small" || fail "mount tmpfs"
cleanup_push "umount $d/small"
truncate -s 16M "$d/small/backing"
lio_lun_create p05s 16M user "$d/small/backing" || fail "LUN creation (small)"
disk=$LIO_DISK
dd if=/dev/urandom of="$d/small/filler" bs=1M count=4 status=none 2>/dev/null
head -c 4096 /dev/urandom > "$d/blk"
out=$(sg_raw -v -s 4096 -i "$d/blk" "$disk" 2a 00 00 00 40 00 00 00 08 00 2>&1)
echo "$out" | grep -iE 'sense|status' | sed 's/^/# sg_raw: /'
grep -qi "data protect" <<<"$out" && grep -qi "space allocation failed" <<<"$out" ||
	fail "ENOSPC did not return DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT"
rm -f "$d/small/filler"
sg_raw -s 4096 -i "$d/blk" "$disk" 2a 00 00 00 40 00 00 00 08 00 >/dev/null 2>&1 ||
	fail "write after space was freed failed"
cmp -s -n 4096 -i $((0x4000 * 512)):0 "$d/small/backing" "$d/blk" ||
	fail "write after space was freed not in the backing file"
log "ENOSPC: DATA PROTECT sense, and writes work again once space is freed"
