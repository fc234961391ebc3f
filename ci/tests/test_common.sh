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
#   zc_lun_create NAME SIZE TYPE [CFG]
#   TYPE: user (ZC_HANDLER, CFG is the backing file), ramdisk, fileio (CFG file)
# Sets ZC_DISK (the SCSI disk, found by its WWN), ZC_LOOP_WWN (the tcm_loop
# target) and ZC_BS (the backstore's targetcli path). Not in a subshell:
# the cleanups it registers must reach the EXIT trap.
zc_lun_create() {
	local name=$1 size=$2 type=$3 cfg=${4:-} bs wwn serial naa dev i
	ZC_DISK= ZC_LOOP_WWN= ZC_BS=
	case $type in
	user)    bs="/backstores/user:$ZC_HANDLER" 
		 zc_targetcli "$bs create name=$name size=$size cfgstring=$cfg" || return 1 ;;
	ramdisk) bs=/backstores/ramdisk
		 zc_targetcli "$bs create name=$name size=$size" || return 1 ;;
	fileio)  bs=/backstores/fileio
		 zc_targetcli "$bs create name=$name file_or_dev=$cfg size=$size write_back=false" || return 1 ;;
	*) fail "zc_lun_create: unknown type $type" ;;
	esac
	zc_cleanup_push "zc_targetcli '$bs delete $name'"
	ZC_BS=$bs/$name
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
zc_fio() {
	local out rc
	out=$(fio --output-format=terse --terse-version=3 --ioengine=libaio --direct=1 \
		--group_reporting "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "$out" | tail -n 20 | sed 's/^/# fio: /'
		return $rc
	fi
	return 0
}
