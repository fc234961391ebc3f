#!/bin/bash
# Malformed completions from a daemon (ci/tests/zctest/handler_zctest.c):
# each one is rejected with a message naming the entry, the ring is marked
# broken, the command times out, its zero-copied buffer is bounced and
# unmapped, the LUN is removable, and a fresh LUN afterwards verifies.
#  1. badpad: the WRITE's ring entry rewritten as a PAD of length 0 (the
#     stock kernel spins on it for ever in tcmu_handle_completions()).
#  2. badlen: the WRITE's entry given a length of 16 bytes, shorter than
#     a command entry (the stock kernel completes the command from it).
# A cmd_id the kernel never issued is test_zc_03's.
# ZC05_COPY=1 runs the same without zero copy (on the unpatched kernel it
# shows the stock behaviour; there the test fails).
. "$(dirname "$0")/lib.sh"
need fio targetcli dd
[ -e "$REPO_TOP/build/handlers/handler_zctest.so" ] || skip "handler_zctest.so not built"
d=$T_TMP
extra="hw_max_sectors=2048"
[ -n "${ZC05_COPY:-}" ] || extra="$extra control=zero_copy=1"
head -c 1M /dev/urandom > "$d/pattern"

for mode in badpad badlen; do
	LIO_HANDLER=zctest
	truncate -s 16M "$d/$mode"
	LIO_PRE_ATTRS="cmd_time_out=3" lio_lun_create "zc05$mode" 16M user "$mode@$d/$mode" \
		"$extra" || fail "$mode: LUN creation"
	# cleanups run last-in first-out: a live tcmu-runner before the LUN goes
	cleanup_push "stack_alive || stack_start_runner"
	if [ -z "${ZC05_COPY:-}" ]; then
		tcmu_has_zero_copy "zc05$mode" || skip "this kernel has no TCMU zero copy"
	fi
	n0=$(dmesg | wc -l)
	# one 1 MiB WRITE: the only command in the ring when the daemon
	# corrupts it
	timeout 120 dd if="$d/pattern" of="$LIO_DISK" bs=1M count=1 oflag=direct \
		status=none 2>/dev/null &
	ddpid=$!
	msg=
	for i in $(seq 1 150); do
		msg=$(dmesg | tail -n +$((n0 + 1)) | grep -m1 "ring entry at .*ring is broken") && break
		sleep 0.2
	done
	[ -n "$msg" ] || fail "$mode: the malformed completion was not rejected within 30 s"
	log "$mode: ${msg#*] }"
	[ -s "$d/$mode.corrupted" ] || fail "$mode: the daemon never corrupted the ring"
	wait $ddpid && log "$mode: dd succeeded (retried after the timeout?)" ||
		log "$mode: dd failed as expected ($?)"
	dmesg | tail -n +$((n0 + 1)) | grep -q "WARNING:" && fail "$mode: WARN in the log"
	if [ -z "${ZC05_COPY:-}" ]; then
		b=$(tcmu_zc_stat "zc05$mode" bounces) z=$(tcmu_zc_stat "zc05$mode" zc_cmds)
		log "$mode: zc_cmds=$z bounces=$b"
		[ "$z" -ge 1 ] || fail "$mode: the WRITE was not zero-copied"
		[ "$b" -ge 1 ] || fail "$mode: the timed-out WRITE was not bounced"
	fi
	cmp -n $((1 << 20)) "$d/pattern" "$d/$mode" || fail "$mode: the file lacks the WRITE"
	# The handler thread is parked for good: tcmu-runner goes. The new one
	# reopens the device (block_dev, reset_ring, unblock: the ring is
	# whole again), and targetcli needs it to know user:zctest.
	pkill -KILL -x tcmu-runner
	for i in $(seq 1 50); do stack_alive || break; sleep 0.1; done
	stack_start_runner || fail "tcmu-runner did not restart"
	lio_lun_delete || fail "$mode: LUN removal after a broken ring"
done

# the stack is healthy afterwards: write+verify on a fresh zero-copy LUN
LIO_HANDLER=zcfile
truncate -s 64M "$d/after"
lio_lun_create zc05ok 64M user "$d/after" "$extra" || fail "LUN creation after the bad rings"
fio_run --name=after --filename="$LIO_DISK" --rw=write --bs=1M --size=32M --iodepth=4 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "write+verify after the bad rings"
log "write+verify on a fresh LUN ok"
lio_lun_delete || fail "LUN removal"
