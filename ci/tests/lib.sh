#!/bin/bash
# The tests' own helpers (sourced by every ci/tests/test_*.sh, never by the
# demo or the benchmarks). kselftest conventions: exit 0 pass, 1 fail,
# 4 skip (KSFT_SKIP).
#
# On top of the guest library (ci/vm/lib.sh: lio_*, tcmu_*, fio_*) and the
# stack (ci/vm/stack.sh: stack_*), a test gets: log/skip/fail/need, a
# scratch directory T_TMP on tmpfs, and the EXIT trap that runs every
# cleanup (LUNs, mounts, loop devices, T_TMP) even when the test fails.
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$REPO_TOP/ci/vm/stack.sh"
KSFT_FAIL=1
KSFT_SKIP=4
T_KERNEL=${T_KERNEL:-adhoc}	# base or patched: which kernel the suite runs on

log() { echo "# $*"; }
skip() { log "SKIP: $*"; exit $KSFT_SKIP; }
fail() { log "FAIL: $*"; exit $KSFT_FAIL; }
need() { local t; for t; do command -v "$t" >/dev/null || skip "$t not installed"; done; }

# T_TRACE=1 (make check T_TRACE=1): every command the test runs, with the
# time it started, into T_OUT/NAME.trace (where a test spends its time).
if [ -n "${T_TRACE:-}" ] && [ "${T_TRACE}" != 0 ]; then
	exec {_t_trace_fd}>>"${T_OUT:-/tmp}/$(basename "$0" .sh).trace"
	BASH_XTRACEFD=$_t_trace_fd
	PS4='+ ${EPOCHREALTIME} '
	set -x
fi

trap cleanup_run EXIT
T_TMP=$(mktemp -d /tmp/t.XXXXXX) || fail "mktemp"
cleanup_push "rm -rf '$T_TMP'"
FIO_JSON=$T_TMP/fio.json

# ---- zcfile plugin (test_plugin_*) ----

# zcfile's per-device I/O counters, logged by tcmu-runner when the device
# closes: t_plugin_stat BACKING_PATH FIELD (the last close of that file).
t_plugin_stat() {
	t_plugin_closing "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# The last "closing PATH: counters..." line of that backing file.
t_plugin_closing() {
	grep -h "closing $1:" "$STACK_TCMU_LOG" "$STACK_RUNNER_LOG" 2>/dev/null | tail -n 1 |
		sed 's/.*closing //'
}

# The zcfile verify suite for one engine (test_plugin_01/02): fio
# write+verify at 4k and 256k and a read+verify pass, 16 commands in
# flight, buffered (backing file on tmpfs) and O_DIRECT (backing file on
# ext4 on a loop device: tmpfs pages are never pinned, so O_DIRECT there
# would prove nothing). The plugin's counters, logged when the LUN is
# deleted, must show O_DIRECT used exactly when asked.
t_plugin_verify_suite() { # ENGINE
	local engine=$1 d=$T_TMP loopdev direct n=0 name backing disk bs size dio buf
	need fio targetcli mkfs.ext4 losetup
	truncate -s 120M "$d/ext4.img"
	loopdev=$(losetup -f --show "$d/ext4.img") || skip "no loop device"
	cleanup_push "losetup -d $loopdev"
	mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$loopdev" ||
		fail "mkfs.ext4"
	mkdir -p "$d/mnt"
	mount "$loopdev" "$d/mnt" || fail "mount ext4"
	cleanup_push "umount $d/mnt"
	for direct in 0 1; do
		n=$((n + 1))
		name=pv$engine$n
		if [ "$direct" = 1 ]; then backing=$d/mnt/backing; else backing=$d/backing; fi
		truncate -s 48M "$backing"
		lio_lun_create "$name" 48M user "$backing;engine=$engine;direct=$direct;depth=16" ||
			fail "LUN creation ($engine, direct=$direct)"
		disk=$LIO_DISK
		for bs in 4k 256k; do
			size=4M; [ $bs = 4k ] && size=1M
			# do_verify: every block written is read back and checked.
			fio_run --name=wv --filename="$disk" --rw=randwrite --bs=$bs --size=$size \
				--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 ||
				fail "write+verify engine=$engine direct=$direct bs=$bs"
			log "engine=$engine direct=$direct bs=$bs: write+verify ok"
		done
		# A separate read pass of the last (256k) pattern, many reads in flight.
		fio_run --name=rv --filename="$disk" --rw=randread --bs=256k --size=4M \
			--iodepth=16 --verify=crc32c --verify_fatal=1 ||
			fail "read+verify engine=$engine direct=$direct"
		log "engine=$engine direct=$direct: read+verify ok"
		lio_lun_delete || fail "LUN deletion"
		[ -n "$(t_plugin_closing "$backing")" ] || fail "no zcfile counters logged for $backing"
		log "plugin counters: $(t_plugin_closing "$backing")"
		dio=$(t_plugin_stat "$backing" direct_ios)
		buf=$(t_plugin_stat "$backing" buffered_ios)
		if [ "$direct" = 1 ]; then
			[ "${dio:-0}" -gt 0 ] || fail "direct=1 but no O_DIRECT I/O was done"
		else
			[ "${dio:-0}" -eq 0 ] && [ "${buf:-0}" -gt 0 ] ||
				fail "direct=0 but O_DIRECT I/O counted"
		fi
	done
}

# ---- zero-copy invariants and fault injection (test_zc_07 and later) ----

# Pages of backstore NAME's zero-copy window that tcmu-runner (or process
# PID) has mapped. With none of the device's commands in flight (and no
# kept buffer), this must be 0: a mapped page then is a stale translation.
t_window_mapped() { # NAME [PID]
	python3 "$REPO_TOP/ci/tests/window_ptes.py" "${2:-$(pgrep -x -o tcmu-runner)}" "$1"
}

t_assert_window_empty() { # NAME WHEN
	local n
	n=$(t_window_mapped "$1") || fail "$2: cannot read the window of $1"
	[ "$n" = 0 ] || fail "$2: $n page(s) of $1's zero-copy window still mapped"
	log "$2: no page of $1's window mapped"
}

# Lines a zctest handler noted in PATH.WHAT (0 if none).
t_noted() { # PATH WHAT
	if [ -e "$1.$2" ]; then wc -l < "$1.$2"; else echo 0; fi
}

t_debugfs() {
	[ -d /sys/kernel/debug/failslab ] ||
		mount -t debugfs none /sys/kernel/debug 2>/dev/null
	[ -d /sys/kernel/debug/failslab ]
}

# The address range of kernel function FUNC: [start, next symbol).
# /proc/kallsyms lists the kernel's own symbols in address order.
t_func_range() { # FUNC
	awk -v f="$1" '
		found && $1 != start { printf "0x%s 0x%s\n", start, $1; exit }
		!found && $3 == f && ($2 == "t" || $2 == "T") { start = $1; found = 1 }' /proc/kallsyms
}

# Make allocations whose call stack passes through kernel function FUNC
# fail: KIND failslab (slab) or fail_page_alloc (pages of any order), at
# most TIMES times (-1: no limit). WAIT=N leaves allocations that may sleep
# alone (the default of both); WAIT=Y fails those too. Off again at exit.
t_fault_inject() { # KIND FUNC TIMES [WAIT]
	local kind=$1 func=$2 times=$3 wait=${4:-N} range dir=/sys/kernel/debug/$1
	t_debugfs || skip "no debugfs for fault injection"
	[ -d "$dir" ] || skip "no $kind fault injection in this kernel"
	[ -e "$dir/require-start" ] || skip "no stack filter for $kind in this kernel"
	range=$(t_func_range "$func")
	[ -n "$range" ] || fail "no symbol $func in /proc/kallsyms"
	[[ $range != 0x0000000000000000* ]] || fail "/proc/kallsyms hides addresses (kptr_restrict)"
	echo 0 > "$dir/probability"
	echo "${range% *}" > "$dir/require-start"
	echo "${range#* }" > "$dir/require-end"
	echo 32 > "$dir/stacktrace-depth"
	echo 1 > "$dir/verbose"
	echo 1 > "$dir/interval"
	echo "$times" > "$dir/times"
	if [ "$wait" = Y ]; then echo N; else echo Y; fi > "$dir/ignore-gfp-wait"
	if [ "$kind" = fail_page_alloc ]; then
		echo 0 > "$dir/min-order"
		echo N > "$dir/ignore-gfp-highmem"
	fi
	echo 100 > "$dir/probability"
	cleanup_push "t_fault_off $kind"
	log "$kind: failing allocations under $func ($range), at most $times"
}

t_fault_off() { # KIND
	echo 0 > "/sys/kernel/debug/$1/probability"
}

# Failures KIND injected so far, given the TIMES it was armed with.
t_fault_count() { # KIND TIMES
	echo $(($2 - $(cat "/sys/kernel/debug/$1/times")))
}
