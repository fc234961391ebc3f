#!/bin/bash
# Zero copy under daemon faults, each followed by a data check:
#  1. tcmu-runner stopped (SIGSTOP) for longer than cmd_time_out: the
#     commands time out, their buffers are bounced, the daemon's late
#     completions are absorbed; fresh I/O afterwards verifies.
#  2. tcmu-runner killed with SIGKILL mid-I/O and restarted; fresh I/O
#     afterwards verifies.
#  3. the LUN and backstore removed while I/O runs.
# Kernel splats fail the test (run-tests.sh scans the log).
. "$(dirname "$0")/lib.sh"
need fio targetcli
d=$T_TMP
truncate -s 64M "$d/backing"
LIO_PRE_ATTRS="cmd_time_out=3" lio_lun_create zc02 64M user "$d/backing" \
	"hw_max_sectors=2048 control=zero_copy=1" || fail "LUN creation"
tcmu_has_zero_copy zc02 || skip "this kernel has no TCMU zero copy"
lio_attr_set zc02 zero_copy_data_in 1
disk=$LIO_DISK
cleanup_push "pkill -CONT -x tcmu-runner"

verify_fresh() { # what
	fio_run --name=fresh --filename="$disk" --rw=randwrite --bs=1M --size=16M \
		--iodepth=4 --verify=crc32c --do_verify=1 --verify_fatal=1 ||
		fail "write+verify after $1"
	log "write+verify after $1 ok"
}

# 1. timeouts
fio_background "$disk" 12
sleep 2
pkill -STOP -x tcmu-runner || fail "no tcmu-runner to stop"
sleep 8
pkill -CONT -x tcmu-runner
wait $FIO_BG_PID
log "fio during the stall exited $? (errors expected)"
b=$(tcmu_zc_stat zc02 bounces)
log "bounces=$b"
[ "$b" -gt 0 ] || fail "no command was bounced by the timeouts"
stack_alive || fail "tcmu-runner died after SIGCONT"
sleep 2
verify_fresh "timeouts"

# 2. SIGKILL and restart
fio_background "$disk" 10
sleep 2
pkill -KILL -x tcmu-runner || fail "no tcmu-runner to kill"
sleep 1
stack_start_runner || fail "tcmu-runner did not restart"
wait $FIO_BG_PID
log "fio across the restart exited $? (errors expected)"
for i in $(seq 1 100); do [ -b "$disk" ] && break; sleep 0.1; done
verify_fresh "SIGKILL and restart"

# 3. removal under I/O
fio_background "$disk" 30
sleep 2
uios=$(lio_uio_count)
lio_lun_delete || fail "LUN removal under I/O"
wait $FIO_BG_PID
log "fio across the removal exited $? (errors expected)"
[ "$(lio_uio_count)" -lt "$uios" ] || fail "the uio device is still there"
stack_alive || fail "tcmu-runner died"
