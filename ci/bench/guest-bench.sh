#!/bin/bash
# In-guest part of `make bench`: one boot, the whole matrix.
#
#   ci/guest/bench.sh RESULTS.jsonl
#
# Backends (all alive at once, each with its own 256 MiB store on tmpfs,
# filled once before the first run):
#   tcmu-copy     user:zcfile, zero copy off (attrib/zero_copy=0)
#   tcmu-zc       the same device, zero copy on for READ and WRITE, at every
#                 size (zero_copy_data_in=1, zero_copy_min_size=4096)
#   tcmu-zc-dflt  the same device, zero copy on with the kernel's default
#                 zero_copy_min_size; run only at block sizes below that
#                 default (above it, it is tcmu-zc)
#   ramdisk       LIO's in-kernel rd_mcp: the ceiling, no userspace hop
#   fileio        LIO's in-kernel fileio on a tmpfs file
#   ublk, ublk-zc the kernel's selftest ublk server (kublk, $BENCH_KUBLK),
#                 loop target on a tmpfs file, without and with -z
# All SCSI backstores go through tcm_loop. Jobs: sequential read and write
# at each block size, random read and write at 4k, each at each iodepth;
# for each job every backend runs in turn (interleaved, so that a change of
# load on the host shows in every column, not in one backend).
#
# Each run appends a JSON line to RESULTS (ci/guest/bench_run.py), the first
# line describes the setup ("type": "meta"). A backend that cannot run on
# this kernel is listed in the meta line with the reason; no numbers are
# made up for it. A progress line per run goes to stdout.
#
# Tunables (environment): BENCH_SIZE (256M), BENCH_RUNTIME (5 s),
# BENCH_RAMP (1 s), BENCH_BS ("4k 64k 256k 1M"), BENCH_QD ("1 16"),
# BENCH_BACKENDS (all of the above), BENCH_REPEAT (1: passes over the whole
# matrix; the report takes each run's median), BENCH_KUBLK (kublk's path).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/test_common.sh"
. "$here/stack.sh"
out=${1:?usage: bench.sh RESULTS.jsonl}
: > "$out" || exit 1

SIZE=${BENCH_SIZE:-256M}
RUNTIME=${BENCH_RUNTIME:-5}
RAMP=${BENCH_RAMP:-1}
BS=${BENCH_BS:-4k 64k 256k 1M}
QDS=${BENCH_QD:-1 16}
REPEAT=${BENCH_REPEAT:-1}
BACKENDS=${BENCH_BACKENDS:-tcmu-copy tcmu-zc tcmu-zc-dflt ramdisk fileio ublk ublk-zc}
KUBLK=${BENCH_KUBLK:-}
# 2048 sectors: 1 MiB commands reach TCMU whole (its default is 128 = 64 KiB).
MAX_SECTORS=2048

need fio python3
bytes() { # 4k, 1M, 256M -> bytes
	local n=${1%[kKmMgG]} u=${1##*[0-9]}
	case $u in k|K) echo $((n << 10));; m|M) echo $((n << 20));; g|G) echo $((n << 30));; *) echo "$n";; esac
}
size_b=$(bytes "$SIZE")

declare -A DEV NA
meta=() # name=value pairs for the meta line
note() { echo "bench: $*"; }
na() { NA[$1]=$2; note "$1 not available: $2"; }
wants() { [[ " $BACKENDS " == *" $1 "* ]]; }

fill() { # dev: write it whole once, so that reads hit allocated pages
	dd if=/dev/zero of="$1" bs=1M count=$((size_b >> 20)) oflag=direct status=none
}

# Backstore + tcm_loop LUN (like zc_lun_create, with extra create options).
#   bench_lun NAME 'targetcli create command' -> sets LUN_DISK
bench_lun() {
	local name=$1 create=$2 bs=${2%% *} wwn serial naa dev
	LUN_DISK=
	zc_targetcli "$create" || return 1
	zc_cleanup_push "zc_targetcli '$bs delete $name'"
	wwn=naa.50014$(printf '%011x' $((RANDOM * 32768 + RANDOM)))
	zc_targetcli "/loopback create $wwn" "/loopback/$wwn/luns create $bs/$name" || return 1
	zc_cleanup_push "zc_targetcli '/loopback delete $wwn'"
	serial=$(sed -n 's/^T10 VPD Unit Serial Number: //p' "$CFS"/core/*/"$name"/wwn/vpd_unit_serial)
	naa=$(zc_naa_of_serial "$serial")
	for _ in $(seq 1 300); do
		for dev in /sys/block/sd*; do
			[ "$(cat "$dev/device/wwid" 2>/dev/null)" = "$naa" ] || continue
			LUN_DISK=/dev/${dev##*/}
			return 0
		done
		sleep 0.1
	done
	log "no SCSI disk with WWN $naa for $name"
	return 1
}

# --- TCMU: one user:zcfile device for the copy and zero-copy rows ---------
ZCA= ZC_MIN_DEFAULT=
if wants tcmu-copy || wants tcmu-zc || wants tcmu-zc-dflt; then
	stack_start || fail "tcmu-runner did not start"
	zc_cleanup_push stack_stop
	truncate -s "$SIZE" "$ZC_TMP/tcmu.img"
	# control=zero_copy=1 creates the zero-copy window; a kernel without
	# zero copy ignores the unknown option.
	bench_lun tcmu "/backstores/user:$ZC_HANDLER create name=tcmu size=$SIZE cfgstring=$ZC_TMP/tcmu.img hw_max_sectors=$MAX_SECTORS control=zero_copy=1" ||
		fail "cannot create the user:$ZC_HANDLER LUN"
	DEV[tcmu-copy]=$LUN_DISK DEV[tcmu-zc]=$LUN_DISK DEV[tcmu-zc-dflt]=$LUN_DISK
	TCMU_DIR=$(zc_backstore_dir tcmu)
	ZCA=$TCMU_DIR/attrib
	meta+=("tcmu_max_data_area_mb=$(cat "$ZCA/max_data_area_mb" 2>/dev/null)"
		"tcmu_hw_max_sectors=$(cat "$ZCA/hw_max_sectors" 2>/dev/null)"
		"tcmu_hw_queue_depth=$(cat "$ZCA/hw_queue_depth" 2>/dev/null)")
	if [ -e "$ZCA/zero_copy" ]; then
		echo 0 > "$ZCA/zero_copy" || fail "cannot turn zero copy off"
		ZC_MIN_DEFAULT=$(cat "$ZCA/zero_copy_min_size" 2>/dev/null)
		meta+=("tcmu_zero_copy_min_size_default=$ZC_MIN_DEFAULT")
		[ -e "$ZCA/zero_copy_data_in" ] || meta+=("warning=no attrib/zero_copy_data_in: READs may not be zero-copied")
		[ -e "$ZCA/zero_copy_stats" ] || meta+=("warning=no attrib/zero_copy_stats: no TCMU counters")
		if [ -z "$ZC_MIN_DEFAULT" ]; then
			na tcmu-zc-dflt "no attrib/zero_copy_min_size"
		fi
	else
		na tcmu-zc "this kernel has no TCMU zero copy (no attrib/zero_copy in $ZCA)"
		na tcmu-zc-dflt "this kernel has no TCMU zero copy (no attrib/zero_copy in $ZCA)"
		ZCA=
	fi
	fill "$LUN_DISK" || fail "fill $LUN_DISK"
	note "tcmu: user:$ZC_HANDLER LUN $LUN_DISK on $ZC_TMP/tcmu.img"
fi

# Zero-copy mode of the TCMU device for one run.
tcmu_mode() { # copy | zc | zc-dflt
	[ -n "$ZCA" ] || return 0
	case $1 in
	copy) echo 0 > "$ZCA/zero_copy" ;;
	zc|zc-dflt)
		if [ -e "$ZCA/zero_copy_data_in" ]; then echo 1 > "$ZCA/zero_copy_data_in" || return 1; fi
		if [ -e "$ZCA/zero_copy_min_size" ]; then
			if [ "$1" = zc ]; then echo 4096; else echo "$ZC_MIN_DEFAULT"; fi > "$ZCA/zero_copy_min_size" || return 1
		fi
		echo 1 > "$ZCA/zero_copy" ;;
	esac
}

# --- LIO in-kernel backstores ----------------------------------------------
if wants ramdisk; then
	if bench_lun ramdisk "/backstores/ramdisk create name=ramdisk size=$SIZE"; then
		DEV[ramdisk]=$LUN_DISK; fill "$LUN_DISK"
		meta+=("ramdisk_hw_max_sectors=$(cat "$(zc_backstore_dir ramdisk)/attrib/hw_max_sectors")")
	else
		na ramdisk "LUN creation failed"
	fi
fi
if wants fileio; then
	truncate -s "$SIZE" "$ZC_TMP/fileio.img"
	if bench_lun fileio "/backstores/fileio create name=fileio file_or_dev=$ZC_TMP/fileio.img size=$SIZE write_back=false"; then
		DEV[fileio]=$LUN_DISK; fill "$LUN_DISK"
		meta+=("fileio_hw_max_sectors=$(cat "$(zc_backstore_dir fileio)/attrib/hw_max_sectors")")
	else
		na fileio "LUN creation failed"
	fi
fi

# --- ublk: the kernel's selftest server ------------------------------------
ublk_del() { # id
	# kublk del waits for its daemon with inotify and reports failure on a
	# kernel without CONFIG_INOTIFY_USER; the device goes all the same.
	"$KUBLK" del -n "$1" >/dev/null 2>&1
	[ ! -e "/dev/ublkb$1" ]
}
ublk_add() { # name [kublk options]: loop target on a fresh tmpfs file
	local name=$1 id; shift
	truncate -s "$SIZE" "$ZC_TMP/$name.img"
	id=$("$KUBLK" add -t loop "$@" "$ZC_TMP/$name.img" 2>"$ZC_TMP/$name.err" |
		sed -n 's/^dev id \([0-9]*\):.*/\1/p')
	if ! [[ $id =~ ^[0-9]+$ ]]; then
		na "$name" "kublk add -t loop $* failed: $(head -c 300 "$ZC_TMP/$name.err" | tr '\n' ' ')"
		return 1
	fi
	zc_cleanup_push "ublk_del $id"
	for _ in $(seq 1 100); do [ -b "/dev/ublkb$id" ] && break; sleep 0.1; done
	[ -b "/dev/ublkb$id" ] || { na "$name" "/dev/ublkb$id did not appear"; return 1; }
	DEV[$name]=/dev/ublkb$id
	fill "/dev/ublkb$id" || { na "$name" "fill failed"; return 1; }
	meta+=("${name}_cmd=kublk add -t loop $*")
}
if wants ublk || wants ublk-zc; then
	why=
	if [ -z "$KUBLK" ] || [ ! -x "$KUBLK" ]; then
		why="no kublk binary (ci/build-ublk.sh failed on the host: see docs/performance.md)"
	elif [ ! -c /dev/ublk-control ]; then
		why="no /dev/ublk-control (kernel without CONFIG_BLK_DEV_UBLK)"
	fi
	if [ -n "$why" ]; then
		wants ublk && na ublk "$why"
		wants ublk-zc && na ublk-zc "$why"
	else
		feats=$("$KUBLK" features 2>&1 | tr -s ' \n\t' ' ')
		meta+=("ublk_features=$feats")
		# Same queue layout for both: kublk's defaults (2 queues, depth 128).
		wants ublk && ublk_add ublk
		if wants ublk-zc; then
			if [[ $feats == *ZERO_COPY* ]]; then
				ublk_add ublk-zc -z
			else
				na ublk-zc "the kernel's ublk lacks UBLK_F_SUPPORT_ZERO_COPY"
			fi
		fi
	fi
fi

# --- the matrix --------------------------------------------------------------
run_list=()
for b in $BACKENDS; do
	[ -n "${NA[$b]:-}" ] || [ -z "${DEV[$b]:-}" ] || run_list+=("$b")
done
[ ${#run_list[@]} -gt 0 ] || fail "no backend can run"
jobs=()
for qd in $QDS; do
	for rw in read write; do for bs in $BS; do jobs+=("$rw $bs $qd"); done; done
	for rw in randread randwrite; do jobs+=("$rw 4k $qd"); done
done
# tcmu-zc-dflt runs only below the default threshold.
runs_of() { # "rw bs qd" -> the backends that run it
	local b rw bs qd bs_b
	read -r rw bs qd <<<"$1"
	bs_b=$(bytes "$bs")
	for b in "${run_list[@]}"; do
		if [ "$b" = tcmu-zc-dflt ] && [ "$bs_b" -ge "${ZC_MIN_DEFAULT:-0}" ]; then continue; fi
		echo "$b"
	done
}
total=0
for j in "${jobs[@]}"; do total=$((total + $(runs_of "$j" | wc -l))); done
total=$((total * REPEAT))

# The guest's CPU use at rest, with every backend's daemon up: what the
# CPU-s/GiB figures carry as a floor.
busy_total() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
read -r b0 t0 <<<"$(busy_total)"; sleep 3; read -r b1 t1 <<<"$(busy_total)"
meta+=("idle_cpu_pct=$(( (b1 - b0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1) ))")

# The recorder: one python for the whole matrix (each python start costs
# seconds here). request FIELD... sends one tab-separated line, prints the
# reply's progress line, and fails if the run did.
coproc REC { exec python3 -u "$here/bench_run.py" --out "$out"; }
request() {
	local IFS=$'\t' reply
	echo "$*" >&"${REC[1]}"
	read -r reply <&"${REC[0]}" || { echo "bench: the recorder died"; return 2; }
	echo "${reply#* }"
	[ "${reply%% *}" = ok ]
}
fields=(meta "size=$SIZE" "runtime=$RUNTIME" "ramp=$RAMP" "runs=$total" "repeat=$REPEAT"
	"backends=${run_list[*]}")
for kv in "${meta[@]}"; do fields+=("kv=$kv"); done
for b in "${!NA[@]}"; do fields+=("na=$b=${NA[$b]}"); done
request "${fields[@]}" >/dev/null || fail "cannot record the setup"
note "$total runs of ${RUNTIME}s (+${RAMP}s ramp), $REPEAT pass(es), on: ${run_list[*]}"
for b in "${run_list[@]}"; do note "  $b: ${DEV[$b]}"; done

snap() { # dev dir: /proc/stat, the disk's stat, TCMU's counters
	grep '^cpu ' /proc/stat > "$2/cpu"
	cat "/sys/block/${1#/dev/}/stat" > "$2/disk"
	if [ -n "$ZCA" ] && [ -r "$ZCA/zero_copy_stats" ]; then cat "$ZCA/zero_copy_stats"; fi > "$2/tcmu"
}

n=0 failed=0
mkdir -p "$ZC_TMP/pre" "$ZC_TMP/post"
for pass in $(seq 1 "$REPEAT"); do
for j in "${jobs[@]}"; do
	read -r rw bs qd <<<"$j"
	for b in $(runs_of "$j"); do
		n=$((n + 1))
		dev=${DEV[$b]}
		err=
		case $b in
		tcmu-copy) tcmu_mode copy ;;
		tcmu-zc) tcmu_mode zc ;;
		tcmu-zc-dflt) tcmu_mode zc-dflt ;;
		esac || err="cannot set the zero-copy mode"
		extra=()
		[[ $rw != rand* ]] || extra=(--randrepeat=0 --norandommap)
		snap "$dev" "$ZC_TMP/pre"
		if [ -z "$err" ]; then
			fio --output-format=json --name="$b" --filename="$dev" --ioengine=libaio \
				--direct=1 --rw="$rw" --bs="$bs" --iodepth="$qd" --size="$SIZE" \
				--time_based --runtime="$RUNTIME" --ramp_time="$RAMP" "${extra[@]}" \
				> "$ZC_TMP/fio.json" 2> "$ZC_TMP/fio.err" ||
				err="fio: $(tail -n 3 "$ZC_TMP/fio.err" | tr '\n' ' ')"
		fi
		snap "$dev" "$ZC_TMP/post"
		t=$SECONDS
		request run "progress=[$n/$total $((t / 60))m$(printf %02d $((t % 60)))s]" \
			"backend=$b" "rw=$rw" "bs=$bs" "qd=$qd" "pass=$pass" "fio=$ZC_TMP/fio.json" \
			"pre=$ZC_TMP/pre" "post=$ZC_TMP/post" ${err:+"error=${err//[$'\t\n']/ }"} ||
			failed=$((failed + 1))
		rm -f "$ZC_TMP/fio.json"
	done
done
done
eval "exec ${REC[1]}>&-"
wait "$REC_PID" 2>/dev/null
note "done: $n runs, $failed failed, ${SECONDS}s"
[ "$failed" -eq 0 ]
