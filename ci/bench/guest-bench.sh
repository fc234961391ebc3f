#!/bin/bash
# In-guest part of `make bench`: one boot, the whole matrix.
#
#   ci/bench/guest-bench.sh RESULTS.jsonl
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
# Each run appends a JSON line to RESULTS (ci/bench/bench_run.py), the first
# line describes the setup ("type": "meta"). A backend that cannot run on
# this kernel is listed in the meta line with the reason; no numbers are
# made up for it. A progress line per run goes to stdout.
#
# Tunables (environment): BENCH_SIZE (256M), BENCH_RUNTIME (5 s),
# BENCH_RAMP (1 s), BENCH_BS ("4k 64k 256k 1M"), BENCH_QD ("1 16"),
# BENCH_BACKENDS (all of the above), BENCH_REPEAT (1: passes over the whole
# matrix; the report takes each run's median), BENCH_RANDOM (1: also the
# 4k random jobs; 0: sequential only, as make demo runs it), BENCH_KUBLK
# (kublk's path).
#
# Uses the guest library (ci/vm/lib.sh) and the stack (ci/vm/stack.sh),
# not the tests' helpers: its own scratch directory and EXIT trap.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vm/lib.sh"
. "$here/../vm/stack.sh"
out=${1:?usage: guest-bench.sh RESULTS.jsonl}
: > "$out" || exit 1
fail() { echo "bench: FAILED: $*"; exit 1; }
trap cleanup_run EXIT
TMP=$(mktemp -d /tmp/bench.XXXXXX) || fail "mktemp"
cleanup_push "rm -rf '$TMP'"

SIZE=${BENCH_SIZE:-256M}
RUNTIME=${BENCH_RUNTIME:-5}
RAMP=${BENCH_RAMP:-1}
BS=${BENCH_BS:-4k 64k 256k 1M}
QDS=${BENCH_QD:-1 16}
REPEAT=${BENCH_REPEAT:-1}
BACKENDS=${BENCH_BACKENDS:-tcmu-copy tcmu-zc tcmu-zc-dflt ramdisk fileio ublk ublk-zc}
KUBLK=${BENCH_KUBLK:-}
RANDOM_JOBS=${BENCH_RANDOM:-1}
# 2048 sectors: 1 MiB commands reach TCMU whole (its default is 128 = 64 KiB).
MAX_SECTORS=2048

for t in fio python3 targetcli; do command -v $t >/dev/null || fail "$t not installed"; done
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

# --- TCMU: one user:zcfile device for the copy and zero-copy rows ---------
ZCA= ZC_MIN_DEFAULT=
if wants tcmu-copy || wants tcmu-zc || wants tcmu-zc-dflt; then
	stack_start || fail "tcmu-runner did not start"
	cleanup_push stack_stop
	truncate -s "$SIZE" "$TMP/tcmu.img"
	# control=zero_copy=1 creates the zero-copy window; a kernel without
	# zero copy ignores the unknown option.
	lio_lun_create tcmu "$SIZE" user "$TMP/tcmu.img" "hw_max_sectors=$MAX_SECTORS control=zero_copy=1" ||
		fail "cannot create the user:$LIO_HANDLER LUN"
	DEV[tcmu-copy]=$LIO_DISK DEV[tcmu-zc]=$LIO_DISK DEV[tcmu-zc-dflt]=$LIO_DISK
	TCMU_DIR=$(lio_backstore_dir tcmu)
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
	fill "$LIO_DISK" || fail "fill $LIO_DISK"
	note "tcmu: user:$LIO_HANDLER LUN $LIO_DISK on $TMP/tcmu.img"
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
	if lio_lun_create ramdisk "$SIZE" ramdisk; then
		DEV[ramdisk]=$LIO_DISK; fill "$LIO_DISK"
		meta+=("ramdisk_hw_max_sectors=$(cat "$(lio_backstore_dir ramdisk)/attrib/hw_max_sectors")")
	else
		na ramdisk "LUN creation failed"
	fi
fi
if wants fileio; then
	truncate -s "$SIZE" "$TMP/fileio.img"
	if lio_lun_create fileio "$SIZE" fileio "$TMP/fileio.img"; then
		DEV[fileio]=$LIO_DISK; fill "$LIO_DISK"
		meta+=("fileio_hw_max_sectors=$(cat "$(lio_backstore_dir fileio)/attrib/hw_max_sectors")")
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
	truncate -s "$SIZE" "$TMP/$name.img"
	id=$("$KUBLK" add -t loop "$@" "$TMP/$name.img" 2>"$TMP/$name.err" |
		sed -n 's/^dev id \([0-9]*\):.*/\1/p')
	if ! [[ $id =~ ^[0-9]+$ ]]; then
		na "$name" "kublk add -t loop $* failed: $(head -c 300 "$TMP/$name.err" | tr '\n' ' ')"
		return 1
	fi
	cleanup_push "ublk_del $id"
	for _ in $(seq 1 100); do [ -b "/dev/ublkb$id" ] && break; sleep 0.1; done
	[ -b "/dev/ublkb$id" ] || { na "$name" "/dev/ublkb$id did not appear"; return 1; }
	DEV[$name]=/dev/ublkb$id
	fill "/dev/ublkb$id" || { na "$name" "fill failed"; return 1; }
	meta+=("${name}_cmd=kublk add -t loop $*")
}
if wants ublk || wants ublk-zc; then
	why=
	if [ -z "$KUBLK" ] || [ ! -x "$KUBLK" ]; then
		why="no kublk binary (ci/bench/build-ublk.sh failed on the host: see docs/performance.md)"
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
	[ "$RANDOM_JOBS" = 0 ] || for rw in randread randwrite; do jobs+=("$rw 4k $qd"); done
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
mkdir -p "$TMP/pre" "$TMP/post"
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
		snap "$dev" "$TMP/pre"
		if [ -z "$err" ]; then
			msg=$(FIO_JSON=$TMP/fio.json fio_run --name="$b" --filename="$dev" \
				--rw="$rw" --bs="$bs" --iodepth="$qd" --size="$SIZE" \
				--time_based --runtime="$RUNTIME" --ramp_time="$RAMP" "${extra[@]}") ||
				err="fio: $(tail -n 3 <<<"$msg" | tr '\n' ' ')"
		fi
		snap "$dev" "$TMP/post"
		t=$SECONDS
		request run "progress=[$n/$total $((t / 60))m$(printf %02d $((t % 60)))s]" \
			"backend=$b" "rw=$rw" "bs=$bs" "qd=$qd" "pass=$pass" "fio=$TMP/fio.json" \
			"pre=$TMP/pre" "post=$TMP/post" ${err:+"error=${err//[$'\t\n']/ }"} ||
			failed=$((failed + 1))
		rm -f "$TMP/fio.json"
	done
done
done
eval "exec ${REC[1]}>&-"
wait "$REC_PID" 2>/dev/null
note "done: $n runs, $failed failed, ${SECONDS}s"
[ "$failed" -eq 0 ]
