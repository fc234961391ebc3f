#!/bin/bash
# The one guest library (sourced), shared by the tests (ci/tests/lib.sh),
# the demo and the benchmarks (ci/bench/): LUNs through targetcli, the disk
# found by its WWN, fio, and the VM exit-status texts (also sourced on the
# host by ci/vm/vm-run.sh, ci/check.sh and ci/bench/bench.sh).
#
# Sourcing it only defines functions and variables: no trap, no scratch
# directory (those are the caller's: tests/lib.sh installs the test ones).
# Cleanups are a last-in-first-out stack: cleanup_push CMD, cleanup_run.
#
# Names: lio_* LIO/targetcli, tcmu_* TCMU's own attributes, fio_* fio,
# vm_* the QEMU runner. Variables LIO_* (set by lio_lun_create), FIO_*.
REPO_TOP=${REPO_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LIO_HANDLER=${LIO_HANDLER:-zcfile}	# tcmu-runner handler for TYPE user
LIO_CFS=/sys/kernel/config/target

# ---- cleanup stack ----------------------------------------------------------

_cleanups=()
cleanup_push() { _cleanups+=("$*"); }
# Run every cleanup, last pushed first; a failing one is reported, not fatal.
cleanup_run() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" >/dev/null 2>&1 || echo "# cleanup failed: ${_cleanups[i]}"
	done
	_cleanups=()
}
# Drop the cleanups whose command contains STRING (it was done by hand).
cleanup_drop() {
	local c keep=()
	for c in "${_cleanups[@]}"; do [[ $c == *"$1"* ]] || keep+=("$c"); done
	_cleanups=("${keep[@]}")
}

# ---- LIO --------------------------------------------------------------------

# Run targetcli with the given commands, one per argument, in one process
# (each targetcli start costs seconds under emulation).
lio_targetcli() {
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
lio_naa_of_serial() {
	local hex
	hex=$(tr -cd '0-9a-fA-F' <<<"$1" | tr 'A-F' 'a-f')
	echo "naa.6001405${hex:0:25}"
}

# The configfs directory of a backstore by name. (Helpers called often are
# plain bash: every program started costs a good part of a second under
# emulation with a debug kernel.)
lio_backstore_dir() {
	local d
	for d in "$LIO_CFS"/core/*/"$1"; do
		[ -d "$d" ] && { echo "$d"; return 0; }
	done
	return 1
}

# Set a backstore attribute: lio_attr_set NAME ATTR VALUE
lio_attr_set() { echo "$3" > "$(lio_backstore_dir "$1")/attrib/$2"; }

lio_uio_count() { ls /sys/class/uio 2>/dev/null | wc -l; }

# Wait (up to 30 s) for the SCSI disk of backstore NAME, found by its WWN
# (never by guessing /dev/sdX); sets LIO_DISK.
lio_wait_disk_by_wwn() {
	local name=$1 serial naa dev i
	LIO_DISK=
	serial=$(sed -n 's/^T10 VPD Unit Serial Number: //p' "$LIO_CFS"/core/*/"$name"/wwn/vpd_unit_serial)
	[ -n "$serial" ] || { echo "# no unit serial for $name"; return 1; }
	naa=$(lio_naa_of_serial "$serial")
	for i in $(seq 1 300); do
		for dev in /sys/block/sd*; do
			[ "$(cat "$dev/device/wwid" 2>/dev/null)" = "$naa" ] || continue
			LIO_DISK=/dev/${dev##*/}
			echo "# LUN $name is $LIO_DISK, WWN $naa"
			return 0
		done
		sleep 0.1
	done
	echo "# no SCSI disk with WWN $naa appeared for $name"
	return 1
}

# Create a backstore and a tcm_loop LUN on it, both removed by cleanup_run.
#   lio_lun_create NAME SIZE TYPE [CFG] [EXTRA]
#   TYPE: user (handler LIO_HANDLER, CFG its config string: the backing
#   file), ramdisk, fileio (CFG the file). EXTRA: more targetcli create
#   parameters (e.g. "hw_max_sectors=2048 control=zero_copy=1").
#   LIO_PRE_ATTRS="attr=value ...": backstore attributes set before the LUN
#   is exported (cmd_time_out, ...).
# Sets LIO_DISK (the SCSI disk), LIO_LOOP_WWN (the tcm_loop target) and
# LIO_BS (the backstore's targetcli path). Call it in the caller's shell,
# not a subshell: the cleanups it registers must reach cleanup_run.
lio_lun_create() {
	local name=$1 size=$2 type=$3 cfg=${4:-} extra=${5:-} bs create wwn a
	LIO_DISK= LIO_LOOP_WWN= LIO_BS=
	case $type in
	user)    bs=/backstores/user:$LIO_HANDLER create="cfgstring=$cfg" ;;
	ramdisk) bs=/backstores/ramdisk create= ;;
	fileio)  bs=/backstores/fileio create="file_or_dev=$cfg write_back=false" ;;
	*) echo "# lio_lun_create: unknown type $type"; return 1 ;;
	esac
	wwn=naa.50014$(printf '%011x' $((RANDOM * 32768 + RANDOM)))
	# Backstore, attributes, target and LUN in one targetcli process.
	local cmds=("$bs create name=$name size=$size $create${extra:+ $extra}")
	for a in ${LIO_PRE_ATTRS:-}; do cmds+=("$bs/$name set attribute $a"); done
	cmds+=("/loopback create $wwn" "/loopback/$wwn/luns create $bs/$name")
	# One cleanup for both, registered first: a half-made LUN goes too.
	cleanup_push "lio_cfs_delete '$wwn' '$name'"
	LIO_BS=$bs/$name LIO_LOOP_WWN=$wwn
	lio_targetcli "${cmds[@]}" || return 1
	lio_wait_disk_by_wwn "$name"
}

# Remove a tcm_loop target (and its LUNs) and a backstore through configfs,
# as rtslib does for targetcli's delete (a targetcli start costs many
# seconds under emulation; the kernel does the same work either way).
#   lio_cfs_delete WWN BACKSTORE_NAME
lio_cfs_delete() {
	local wwn=$1 t l x so
	if [ -d "$LIO_CFS/loopback/$wwn" ]; then
		for t in "$LIO_CFS/loopback/$wwn"/tpgt_*; do
			[ -d "$t" ] || continue
			for l in "$t"/lun/lun_*; do
				[ -d "$l" ] || continue
				for x in "$l"/*; do [ ! -L "$x" ] || rm -f "$x" || return 1; done
				rmdir "$l" || return 1
			done
			rmdir "$t" || return 1
		done
		rmdir "$LIO_CFS/loopback/$wwn" || return 1
	fi
	so=$(lio_backstore_dir "$2")
	[ -z "$so" ] || rmdir "$so"
}

# Delete the LUN and backstore made by the last lio_lun_create now
# (--targetcli: through targetcli, as a user would; default: configfs).
lio_lun_delete() {
	if [ "${1:-}" = --targetcli ]; then
		lio_targetcli "/loopback delete $LIO_LOOP_WWN" "${LIO_BS%/*} delete ${LIO_BS##*/}" || return 1
	else
		lio_cfs_delete "$LIO_LOOP_WWN" "${LIO_BS##*/}" || return 1
	fi
	cleanup_drop "lio_cfs_delete '$LIO_LOOP_WWN' "
}

# ---- TCMU -------------------------------------------------------------------

# True when the kernel gave backstore NAME a zero-copy window (the patched
# kernel with control=zero_copy=1); the attribute does not exist otherwise.
tcmu_has_zero_copy() {
	local d
	d=$(lio_backstore_dir "$1") && [ -n "$d" ] && [ -e "$d/attrib/zero_copy" ]
}

# One counter of attrib/zero_copy_stats ("name value" lines); 0 if absent.
tcmu_zc_stat() {
	local k v
	while read -r k v; do
		[ "$k" = "$2" ] && { echo "${v:-0}"; return 0; }
	done 2>/dev/null < "$(lio_backstore_dir "$1")/attrib/zero_copy_stats"
	echo 0
}

# ---- fio --------------------------------------------------------------------

FIO_JSON=${FIO_JSON:-/tmp/fio.$$.json}	# the last fio_run's JSON report

# fio on a block device (libaio, O_DIRECT); extra arguments are fio options.
# The JSON report goes to FIO_JSON; on failure the tail of what fio said is
# printed.
fio_run() {
	local out rc
	# (no verify state file: the working directory may be the read-only root)
	out=$(fio --output-format=json --output="$FIO_JSON" --ioengine=libaio --direct=1 \
		--group_reporting --verify_state_save=0 "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		{ echo "$out"; grep -v '^[[:space:]]*[{}"\[]' "$FIO_JSON" 2>/dev/null; } |
			tail -n 20 | sed 's/^/# fio: /'
	fi
	return $rc
}

# fio_run, then print the aggregate bandwidth in MiB/s (read plus write).
fio_bw() {
	fio_run "$@" >&2 || return
	python3 "$REPO_TOP/ci/vm/fio_json.py" bw "$FIO_JSON"
}

# Unverified 1 MiB random read/write on DISK for RUNTIME seconds in the
# background (errors expected: the fault tests break the daemon under it);
# its pid in FIO_BG_PID. fio_background DISK RUNTIME [IODEPTH]
fio_background() {
	fio --name=bg --filename="$1" --ioengine=libaio --direct=1 --rw=randrw --bs=1M \
		--size=32M --iodepth="${3:-8}" --time_based --runtime="$2" >/dev/null 2>&1 &
	FIO_BG_PID=$!
}

# ---- the QEMU runner (host side) --------------------------------------------

# What an exit status of ci/vm/vm-run.sh means, for messages.
vm_status_text() {
	case $1 in
	0) echo "ok" ;;
	125) echo "usage or host-side setup error (before the boot)" ;;
	253) echo "the command passed, but the kernel logged an oops, BUG, WARNING, KASAN or lockdep report" ;;
	254) echo "the guest hung (no power-off within its time limit; QEMU killed)" ;;
	255) echo "the guest died without a status (kernel panic or init crash)" ;;
	*) echo "the command failed with status $1" ;;
	esac
}

# The kernel build directory of a bzImage (DIR/arch/x86/boot/bzImage), or
# nothing when IMG is not inside one.
vm_kbuild_of() {
	local d
	d=$(dirname "$(readlink -f "$1")")
	d=${d%/arch/x86/boot}
	[ -f "$d/.config" ] && echo "$d"
	return 0
}
