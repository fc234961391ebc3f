#!/bin/bash
# Helpers shared by the in-guest tests (sourced). kselftest conventions:
# exit 0 pass, 1 fail, 4 skip (KSFT_SKIP).
#
# A test sources this file, calls zc_lun_create to get a LUN, and relies on
# the EXIT trap for cleanup: every LUN, backstore and temporary directory it
# made is removed even when the test fails.
KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

ZC_TOP=${ZC_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ZC_HANDLER=${ZC_HANDLER:-zcfile}
CFS=/sys/kernel/config/target

_zc_cleanups=()
_zc_tmpdirs=()

log() { echo "# $*"; }
skip() { log "SKIP: $*"; exit $KSFT_SKIP; }
fail() { log "FAIL: $*"; exit $KSFT_FAIL; }
need() { local t; for t; do command -v "$t" >/dev/null || skip "$t not installed"; done; }

zc_cleanup_push() { _zc_cleanups+=("$*"); }

_zc_cleanup() {
	local rc=$? i
	for ((i = ${#_zc_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_zc_cleanups[i]}" >/dev/null 2>&1 || log "cleanup failed: ${_zc_cleanups[i]}"
	done
	for i in "${_zc_tmpdirs[@]}"; do rm -rf "$i"; done
	exit $rc
}
trap _zc_cleanup EXIT

# A scratch directory on tmpfs for this test, removed at exit.
ZC_TMP=$(mktemp -d /tmp/zc-test.XXXXXX) || fail "mktemp"
_zc_tmpdirs+=("$ZC_TMP")

# Run targetcli with the given commands, one per argument, in one process
# (each targetcli start costs seconds under emulation).
zc_targetcli() {
	local out rc
	out=$(printf '%s\n' "set global auto_save_on_exit=false" "$@" "exit" |
		HOME=/root targetcli 2>&1)
	rc=$?
	# targetcli exits 0 even when a command failed: look at what it said.
	# (Its first start warns that it has no preferences file yet.)
	if [ $rc -ne 0 ] || grep -v '^Warning: Could not load preferences' <<<"$out" |
		grep -qiE '(^|/> )(error|no such|.*failed|.*could not|.*cannot)'; then
		echo "$out" | sed 's/^/# targetcli: /' >&2
		return 1
	fi
	return 0
}

# LIO's NAA identifier for a device: NAA 6, OUI 00-14-05, then the hex
# digits of the unit serial (spc_gen_naa_6h_vendor_specific()).
zc_naa_of_serial() {
	local hex
	hex=$(tr -cd '0-9a-fA-F' <<<"$1" | tr 'A-F' 'a-f')
	echo "naa.6001405${hex:0:25}"
}

# Create a backstore and a tcm_loop LUN on it, both removed at exit.
#   zc_lun_create NAME SIZE TYPE [CFG] [EXTRA]
#   TYPE: user (ZC_HANDLER, CFG is the backing file), ramdisk, fileio (CFG file)
#   EXTRA: more targetcli create parameters for TYPE user (e.g.
#   "hw_max_sectors=2048 control=zero_copy=1")
# Sets ZC_DISK (the SCSI disk, found by its WWN), ZC_LOOP_WWN (the tcm_loop
# target) and ZC_BS (the backstore's targetcli path). Not in a subshell:
# the cleanups it registers must reach the EXIT trap.
zc_lun_create() {
	local name=$1 size=$2 type=$3 cfg=${4:-} bs wwn serial naa dev i
	ZC_DISK= ZC_LOOP_WWN= ZC_BS=
	case $type in
	user)    bs="/backstores/user:$ZC_HANDLER" 
		 zc_targetcli "$bs create name=$name size=$size cfgstring=$cfg${5:+ $5}" || return 1 ;;
	ramdisk) bs=/backstores/ramdisk
		 zc_targetcli "$bs create name=$name size=$size" || return 1 ;;
	fileio)  bs=/backstores/fileio
		 zc_targetcli "$bs create name=$name file_or_dev=$cfg size=$size write_back=false" || return 1 ;;
	*) fail "zc_lun_create: unknown type $type" ;;
	esac
	zc_cleanup_push "zc_targetcli '$bs delete $name'"
	ZC_BS=$bs/$name
	# ZC_PRE_ATTRS="attr=value ...": backstore attributes that must be set
	# before the LUN is exported (cmd_time_out, ...).
	for i in ${ZC_PRE_ATTRS:-}; do
		echo "${i#*=}" > "$(zc_backstore_dir "$name")/attrib/${i%%=*}" ||
			{ log "cannot set attribute $i on $name"; return 1; }
	done
	wwn=naa.50014$(printf '%011x' $((RANDOM * 32768 + RANDOM)))
	zc_targetcli "/loopback create $wwn" "/loopback/$wwn/luns create $bs/$name" || return 1
	zc_cleanup_push "zc_targetcli '/loopback delete $wwn'"
	ZC_LOOP_WWN=$wwn
	serial=$(sed -n 's/^T10 VPD Unit Serial Number: //p' "$CFS"/core/*/"$name"/wwn/vpd_unit_serial)
	[ -n "$serial" ] || { log "no unit serial for $name"; return 1; }
	naa=$(zc_naa_of_serial "$serial")
	for i in $(seq 1 300); do
		for dev in /sys/block/sd*; do
			[ -e "$dev/device/wwid" ] || continue
			if [ "$(cat "$dev/device/wwid")" = "$naa" ]; then
				ZC_DISK=/dev/${dev##*/}
				log "LUN $name ($type) is $ZC_DISK, WWN $naa"
				return 0
			fi
		done
		sleep 0.1
	done
	log "no SCSI disk with WWN $naa appeared"
	return 1
}

# Delete the LUN and backstore made by the last zc_lun_create now (not at
# exit).
zc_lun_delete() {
	local c keep=()
	zc_targetcli "/loopback delete $ZC_LOOP_WWN" "${ZC_BS%/*} delete ${ZC_BS##*/}" || return 1
	for c in "${_zc_cleanups[@]}"; do
		case $c in *"delete $ZC_LOOP_WWN'"|*"delete ${ZC_BS##*/}'") ;; *) keep+=("$c");; esac
	done
	_zc_cleanups=("${keep[@]}")
}

# The configfs directory of a backstore by name.
zc_backstore_dir() { ls -d "$CFS"/core/*/"$1" 2>/dev/null | head -n 1; }

zc_uio_count() { ls /sys/class/uio 2>/dev/null | wc -l; }

# fio on a block device with verification. Extra arguments are fio options.
# Its terse output is left in ZC_FIO_OUT; on failure the tail is printed.
zc_fio() {
	local rc
	ZC_FIO_OUT=$(fio --output-format=terse --terse-version=3 --ioengine=libaio --direct=1 \
		--group_reporting "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "$ZC_FIO_OUT" | tail -n 20 | sed 's/^/# fio: /'
		return $rc
	fi
	return 0
}

# ---- zcfile plugin helpers (test_plugin_*) ----

ZC_RUNNER_TCMU_LOG=${ZC_RUNNER_TCMU_LOG:-/var/log/tcmu/tcmu-runner.log}

# True when the kernel gave backstore NAME a zero-copy window (the patched
# kernel with control=zero_copy=1); the attribute does not exist otherwise.
zc_has_zero_copy() {
	local d
	d=$(zc_backstore_dir "$1") && [ -n "$d" ] && [ -e "$d/attrib/zero_copy" ]
}

# Set a backstore attribute: zc_attr_set NAME ATTR VALUE
zc_attr_set() { echo "$3" > "$(zc_backstore_dir "$1")/attrib/$2"; }

# One counter of attrib/zero_copy_stats ("name value" lines); 0 if absent.
zc_zc_stat() {
	local v
	v=$(awk -v k="$2" '$1 == k { print $2 }' "$(zc_backstore_dir "$1")/attrib/zero_copy_stats" 2>/dev/null)
	echo "${v:-0}"
}

# zcfile's per-device I/O counters, logged by tcmu-runner when the device
# closes: zc_plugin_stat BACKING_PATH FIELD (the last close of that file).
zc_plugin_stat() {
	grep -h "zcfile: closing $1:" "$ZC_RUNNER_TCMU_LOG" "$ZC_RUNNER_LOG" 2>/dev/null | tail -n 1 |
		tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Unverified 1 MiB random read/write on DISK for RUNTIME seconds in the
# background (errors expected: the faults tests break the daemon under it);
# its pid in ZC_BG_PID. zc_fio_background DISK RUNTIME [IODEPTH]
zc_fio_background() {
	fio --name=bg --filename="$1" --ioengine=libaio --direct=1 --rw=randrw --bs=1M \
		--size=32M --iodepth="${3:-8}" --time_based --runtime="$2" >/dev/null 2>&1 &
	ZC_BG_PID=$!
}

# fio on a block device, printing the aggregate bandwidth in MiB/s (read
# plus write) on stdout. Extra arguments are fio options.
zc_fio_bw() {
	zc_fio "$@" >&2 || return
	# terse v3: field 7 read bandwidth KiB/s, field 48 write bandwidth KiB/s
	echo "$ZC_FIO_OUT" | awk -F';' '/^3;/ { printf "%.1f\n", ($7 + $48) / 1024 }' | tail -n 1
}

# The zcfile verify suite for one engine (test_plugin_01/02): fio
# write+verify at 4k and 256k and a read+verify pass, 16 commands in
# flight, buffered (backing file on tmpfs) and O_DIRECT (backing file on
# ext4 on a loop device: tmpfs pages are never pinned, so O_DIRECT there
# would prove nothing). The plugin's counters, logged when the LUN is
# deleted, must show O_DIRECT used exactly when asked.
zc_plugin_verify_suite() { # ENGINE
	local engine=$1 d=$ZC_TMP loopdev direct n=0 name backing disk bs size stats dio buf
	need fio targetcli mkfs.ext4 losetup
	truncate -s 120M "$d/ext4.img"
	loopdev=$(losetup -f --show "$d/ext4.img") || skip "no loop device"
	zc_cleanup_push "losetup -d $loopdev"
	mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$loopdev" ||
		fail "mkfs.ext4"
	mkdir -p "$d/mnt"
	mount "$loopdev" "$d/mnt" || fail "mount ext4"
	zc_cleanup_push "umount $d/mnt"
	for direct in 0 1; do
		n=$((n + 1))
		name=pv$engine$n
		if [ "$direct" = 1 ]; then backing=$d/mnt/backing; else backing=$d/backing; fi
		truncate -s 48M "$backing"
		zc_lun_create "$name" 48M user "$backing;engine=$engine;direct=$direct;depth=16" ||
			fail "LUN creation ($engine, direct=$direct)"
		disk=$ZC_DISK
		for bs in 4k 256k; do
			size=8M; [ $bs = 4k ] && size=1M
			# do_verify: every block written is read back and checked.
			zc_fio --name=wv --filename="$disk" --rw=randwrite --bs=$bs --size=$size \
				--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 ||
				fail "write+verify engine=$engine direct=$direct bs=$bs"
			log "engine=$engine direct=$direct bs=$bs: write+verify ok"
		done
		# A separate read pass of the last (256k) pattern, many reads in flight.
		zc_fio --name=rv --filename="$disk" --rw=randread --bs=256k --size=8M \
			--iodepth=16 --verify=crc32c --verify_fatal=1 ||
			fail "read+verify engine=$engine direct=$direct"
		log "engine=$engine direct=$direct: read+verify ok"
		zc_lun_delete || fail "LUN deletion"
		stats=$(grep -h "zcfile: closing $backing:" "$ZC_RUNNER_TCMU_LOG" | tail -n 1)
		[ -n "$stats" ] || fail "no zcfile counters logged for $backing"
		log "plugin counters: ${stats#*closing }"
		dio=$(zc_plugin_stat "$backing" direct_ios)
		buf=$(zc_plugin_stat "$backing" buffered_ios)
		if [ "$direct" = 1 ]; then
			[ "${dio:-0}" -gt 0 ] || fail "direct=1 but no O_DIRECT I/O was done"
		else
			[ "${dio:-0}" -eq 0 ] && [ "${buf:-0}" -gt 0 ] ||
				fail "direct=0 but O_DIRECT I/O counted"
		fi
	done
}
