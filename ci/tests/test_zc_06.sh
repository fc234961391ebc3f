#!/bin/bash
# Zero copy when the window and the data area run out, and when the
# initiator aborts commands the daemon holds:
#  - a 1 MiB window and a 1 MiB data area under 1 MiB I/O at depth 16:
#    one command zero-copied at a time, the rest copied because the window
#    is full, most of those queued because the data area is full (qfull);
#  - the daemon stopped for 12 s with the SCSI command timeout at 3 s and
#    TCMU's own timeout off: the initiator's error handler aborts the
#    commands (ABORT_TASK through tcm_loop), while some of them are mapped
#    into the stopped daemon and others wait on the qfull queue;
#  - data verified while it runs and afterwards, no kernel report.
. "$(dirname "$0")/lib.sh"
need fio targetcli
d=$T_TMP
truncate -s 64M "$d/backing"
LIO_PRE_ATTRS="cmd_time_out=0" lio_lun_create zc06 64M user "$d/backing" \
	"hw_max_sectors=2048 control=max_data_area_mb=1,zero_copy=1,zero_copy_window_mb=1" ||
	fail "LUN creation"
tcmu_has_zero_copy zc06 || skip "this kernel has no TCMU zero copy"
lio_attr_set zc06 zero_copy_data_in 1
disk=$LIO_DISK
cleanup_push "pkill -CONT -x tcmu-runner"

# 1. window full and qfull
fio_run --name=full --filename="$disk" --rw=randrw --bs=1M --size=24M --iodepth=16 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "write+verify with a full window"
z=$(tcmu_zc_stat zc06 zc_cmds) w=$(tcmu_zc_stat zc06 copy_window_full)
log "full window: zc_cmds=$z copy_window_full=$w"
[ "$z" -gt 0 ] || fail "nothing was zero-copied"
[ "$w" -gt 0 ] || fail "the window never filled up"

# 2. aborts while the daemon is stopped
echo 3 > "/sys/block/${disk#/dev/}/device/timeout" || fail "cannot set the SCSI timeout"
n0=$(dmesg | wc -l)
f0=$(tcmu_zc_stat zc06 faults)
fio_background "$disk" 25 16
sleep 3
pkill -STOP -x tcmu-runner || fail "no tcmu-runner to stop"
sleep 12
pkill -CONT -x tcmu-runner
wait $FIO_BG_PID
log "fio across the aborts exited $? (errors possible)"
a=$(dmesg | tail -n +$((n0 + 1)) | grep -c "ABORT_TASK")
log "ABORT_TASK lines: $a, faults during the run: $(( $(tcmu_zc_stat zc06 faults) - f0 ))"
[ "$a" -gt 0 ] || fail "the initiator never aborted a command"
for i in $(seq 1 100); do [ -b "$disk" ] && break; sleep 0.1; done
echo 30 > "/sys/block/${disk#/dev/}/device/timeout"
fio_run --name=after --filename="$disk" --rw=randwrite --bs=1M --size=32M --iodepth=8 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "write+verify after the aborts"
log "write+verify after the aborts ok"
lio_lun_delete || fail "LUN removal"
