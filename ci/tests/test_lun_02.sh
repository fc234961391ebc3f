#!/bin/bash
# Zero copy off behaves as the unpatched kernel: a transcript of what a
# user:zcfile LUN shows the initiator and the operator (the stock configfs
# attributes, the uio map size, block queue limits, INQUIRY, READ CAPACITY,
# block-limits and provisioning VPD pages, data written and read back at
# several sizes and offsets, WRITE SAME, UNMAP, SYNCHRONIZE CACHE, sense
# data for a READ past the end and for an unsupported VPD page).
#
# The unpatched kernel's transcript is checked in: ci/tests/control/lun02.txt,
# written by `make control` (this test on the base kernel saves its
# transcript to T_OUT, and ci/check.sh --control copies it there). On the
# patched kernel (`make check`) the transcript of a LUN without a zero-copy
# window and of one with a window and zero_copy=0 must equal it (the
# window's larger uio map aside). Read-back data is checked against what
# was written on every kernel.
. "$(dirname "$0")/lib.sh"
need targetcli python3 sg_inq sg_readcap sg_vpd sg_raw sg_write_same sg_unmap sg_sync
d=$T_TMP
out=${T_OUT:-$REPO_TOP/build/vmout}
base=$REPO_TOP/ci/tests/control/lun02.txt

# the stock attributes whose defaults the initiator or operator sees
attrs="block_size hw_block_size hw_max_sectors max_sectors optimal_sectors
	hw_queue_depth queue_depth emulate_write_cache emulate_tpu emulate_tpws
	max_unmap_lba_count max_unmap_block_desc_count unmap_granularity
	max_write_same_len cmd_time_out qfull_time_out max_data_area_mb
	data_pages_per_blk cmd_ring_size_mb nl_reply_supported"

transcript() { # NAME: print the transcript of LUN NAME at $LIO_DISK
	local name=$1 disk=$LIO_DISK dir uio a q cap
	dir=$(lio_backstore_dir "$name")
	echo "== attributes"
	for a in $attrs; do
		if [ -r "$dir/attrib/$a" ]; then echo "$a=$(cat "$dir/attrib/$a")"; else echo "$a absent"; fi
	done
	uio=$(grep -l "/$name/" /sys/class/uio/uio*/name | head -n 1)
	echo "== uio map0 size $(cat "${uio%/name}/maps/map0/size")"
	echo "== queue limits"
	for q in max_hw_sectors_kb max_sectors_kb logical_block_size physical_block_size \
		discard_max_bytes discard_granularity write_cache; do
		echo "$q=$(cat "/sys/block/${disk#/dev/}/queue/$q")"
	done
	echo "== INQUIRY"
	sg_inq "$disk" 2>&1 | grep -iv "serial\|LU name\|naa\."
	echo "== READ CAPACITY(16)"
	sg_readcap -l "$disk" 2>&1
	echo "== VPD block limits"
	sg_vpd -p bl "$disk" 2>&1
	echo "== VPD logical block provisioning"
	sg_vpd -p lbpv "$disk" 2>&1
	echo "== data"
	python3 - "$disk" <<'PY' || echo "DATA CHECK FAILED"
import hashlib, mmap, os, random, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
# (offset, length): sector-sized to 1 MiB, aligned and not
regions = [(0, 4096), (4096, 65536), (1 << 20, 1 << 20), (3 << 20, 3584),
           ((5 << 20) + 512, 262144), (8 << 20, 131072)]
buf = mmap.mmap(-1, 1 << 20)
bad = 0
for off, n in regions:
    random.seed(off)
    data = random.randbytes(n)
    buf[:n] = data
    assert os.pwritev(fd, [memoryview(buf)[:n]], off) == n
for off, n in regions:
    random.seed(off)
    want = hashlib.sha256(random.randbytes(n)).hexdigest()
    buf[:n] = b"\x5a" * n
    assert os.preadv(fd, [memoryview(buf)[:n]], off) == n
    got = hashlib.sha256(buf[:n]).hexdigest()
    print("region %d+%d %s" % (off, n, "ok" if got == want else "MISMATCH"))
    bad += got != want
# a region never written reads as zeros
buf[:65536] = b"\x5a" * 65536
os.preadv(fd, [memoryview(buf)[:65536]], 16 << 20)
print("unwritten 16M+64k", "zeros" if buf[:65536] == bytes(65536) else "NOT ZEROS")
sys.exit(1 if bad else 0)
PY
	echo "== WRITE SAME(16) 256 blocks at LBA 20480 of a 0xa5 block"
	head -c 512 /dev/zero | tr '\0' '\245' > "$d/ws"
	sg_write_same --16 --in="$d/ws" --lba=20480 --num=256 "$disk" 2>&1; echo "rc=$?"
	dd if="$disk" bs=512 skip=20480 count=256 iflag=direct status=none | sha256sum | cut -c1-64
	echo "== UNMAP 128 blocks at LBA 20480"
	sg_unmap --force --lba=20480 --num=128 "$disk" 2>&1; echo "rc=$?"
	dd if="$disk" bs=512 skip=20480 count=256 iflag=direct status=none | sha256sum | cut -c1-64
	echo "== SYNCHRONIZE CACHE"
	sg_sync "$disk" 2>&1; echo "rc=$?"
	cap=$(sg_readcap -l "$disk" | sed -n 's/.*Last LBA=\([0-9]*\).*/\1/p')
	echo "== READ(16) one block past the last LBA"
	sg_raw -r 512 "$disk" 88 00 $(printf '%016x' $((cap + 1)) | sed 's/../& /g') 00 00 00 01 00 00 2>&1 |
		grep -v "^ *$"
	echo "== INQUIRY of an unsupported VPD page (0xb9)"
	sg_raw -r 255 "$disk" 12 01 b9 00 ff 00 2>&1 | grep -v "^ *$"
}

truncate -s 64M "$d/plain"
lio_lun_create lun02 64M user "$d/plain" || fail "LUN creation"
transcript lun02 > "$d/t.plain"
lio_lun_delete || fail "LUN removal"
cp "$d/t.plain" "$out/$T_KERNEL-lun02.txt" 2>/dev/null || log "cannot save the transcript in $out"
grep -q "MISMATCH\|NOT ZEROS\|DATA CHECK FAILED" "$d/t.plain" && { cat "$d/t.plain"; fail "data read back differs"; }
log "transcript: $(wc -l < "$d/t.plain") lines"

if [ "$T_KERNEL" = base ]; then
	log "base kernel: transcript saved as $out/$T_KERNEL-lun02.txt"
	exit 0
fi
[ -s "$base" ] || fail "no checked-in transcript of the unpatched kernel ($base): run make control"
stale="(if the base kernel, its config or this test changed: make control regenerates $base)"
diff -u "$base" "$d/t.plain" > "$d/diff.plain" ||
	{ cat "$d/diff.plain"; fail "a LUN without a window differs from the unpatched kernel $stale"; }
log "LUN without a zero-copy window: identical to the unpatched kernel"

truncate -s 64M "$d/win"
lio_lun_create lun02 64M user "$d/win" "control=zero_copy=1" || fail "LUN creation with a window"
tcmu_has_zero_copy lun02 || fail "the patched kernel has no zero_copy attribute"
lio_attr_set lun02 zero_copy 0 || fail "zero_copy=0"
transcript lun02 > "$d/t.win"
n=$(tcmu_zc_stat lun02 zc_cmds)
lio_lun_delete || fail "LUN removal"
[ "$n" = 0 ] || fail "$n commands were zero-copied with zero_copy=0"
grep -v "^== uio map0 size" "$base" > "$d/b"
grep -v "^== uio map0 size" "$d/t.win" > "$d/w"
diff -u "$d/b" "$d/w" > "$d/diff.win" ||
	{ cat "$d/diff.win"; fail "a LUN with a window and zero_copy=0 differs from the unpatched kernel $stale"; }
log "LUN with a window, zero_copy=0: identical to the unpatched kernel (uio map: $(grep 'map0' "$d/t.win"))"
