#!/bin/bash
# A daemon that opened the uio device through a node of its own (review
# F3, and the stock reclaim path): tcmu-runner runs in a private mount
# namespace whose /dev is a tmpfs with a mknod'ed uioN, as in a container.
# It dies (SIGKILL) with commands in flight; with it goes its namespace,
# the tmpfs and the node's inode. TCMU kept a pointer to that inode:
#  1. copy path: the global data block reclaim (find_free_blocks(), run
#     here by lowering global_max_data_area_mb) unmapped the data area of
#     the closed device through it (stock since the global block pool;
#     this part runs on the unpatched kernel too);
#  2. zero copy: the in-flight zero-copied commands time out afterwards,
#     and series v3 unmapped their window range through the freed inode.
# KASAN reports either use-after-free; expected: nothing reported, and
# the LUN works with a new daemon.
. "$(dirname "$0")/lib.sh"
need fio targetcli unshare mknod
d=$T_TMP
param=/sys/module/target_core_user/parameters/global_max_data_area_mb

# tcmu-runner in a mount namespace of its own, with /dev a tmpfs holding
# only the nodes it needs; the uio node is this device's.
runner_in_ns() { # BACKSTORE
	local uio dev pid i
	uio=$(grep -l "^tcm-user/[0-9]*/$1/" /sys/class/uio/uio*/name | head -n 1)
	uio=$(basename "$(dirname "$uio")")
	[ -n "$uio" ] || fail "no uio device for $1"
	dev=$(cat "/sys/class/uio/$uio/dev")
	stack_stop_runner
	setsid unshare -m --propagation private sh -c '
		mount -t tmpfs none /dev || exit 1
		mknod -m 600 "/dev/$1" c "${2%:*}" "${2#*:}" || exit 1
		mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 || exit 1
		exec tcmu-runner --handler-path "$3" --tcmu-log-dir /var/log/tcmu' \
		sh "$uio" "$dev" "$STACK_HANDLER_DIR" >>"$STACK_RUNNER_LOG" 2>&1 < /dev/null &
	disown
	for i in $(seq 1 300); do
		pid=$(pgrep -x -n tcmu-runner) && grep -q "/dev/$uio" "/proc/$pid/maps" 2>/dev/null &&
			{ NS_PID=$pid; log "tcmu-runner $pid serves /dev/$uio ($dev) from a private tmpfs /dev"; return 0; }
		sleep 0.2
	done
	fail "tcmu-runner in a private namespace did not map /dev/$uio"
}

kill_ns_runner() {
	kill -KILL "$NS_PID"
	for i in $(seq 1 100); do kill -0 "$NS_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$NS_PID" 2>/dev/null && fail "tcmu-runner $NS_PID did not die"
	log "tcmu-runner $NS_PID killed; its namespace, tmpfs and uio node are gone"
}

cleanup_push "stack_alive || stack_start_runner"

# 1. copy path (stock TCMU, any kernel): reclaim of a closed device's data area
[ -w "$param" ] || fail "no writable $param"
old=$(cat "$param")
truncate -s 64M "$d/copy"
lio_lun_create zc09b 64M user "$d/copy" || fail "LUN creation"
disk=$LIO_DISK
has_zc=; tcmu_has_zero_copy zc09b && has_zc=1
runner_in_ns zc09b
fio_run --name=fill --filename="$disk" --rw=write --bs=256k --size=16M --iodepth=8 ||
	fail "I/O through the namespaced daemon"
kill_ns_runner
sleep 1
cleanup_push "echo $old > $param"
echo 1 > "$param" || fail "cannot lower global_max_data_area_mb"
sleep 3	# the reclaim runs from the unmap work
echo "$old" > "$param"
log "global data block reclaim ran over the closed device"
stack_start_runner || fail "tcmu-runner did not restart"
fio_run --name=copy --filename="$disk" --rw=randwrite --bs=64k --size=16M --iodepth=4 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "write+verify with a new daemon"
lio_lun_delete || fail "LUN removal"

# 2. zero copy: commands in flight when the daemon dies time out later
[ -n "$has_zc" ] || { log "SKIP: this kernel has no TCMU zero copy (part 2)"; exit 0; }
truncate -s 64M "$d/zc"
LIO_PRE_ATTRS="cmd_time_out=3" lio_lun_create zc09a 64M user "$d/zc" \
	"hw_max_sectors=2048 control=zero_copy=1" || fail "LUN creation"
tcmu_has_zero_copy zc09a || skip "this kernel has no TCMU zero copy"
disk=$LIO_DISK
runner_in_ns zc09a
fio_background "$disk" 30 8
sleep 4
inflight=$(tcmu_zc_stat zc09a zc_cmds)
kill_ns_runner
log "zc_cmds so far: $inflight; waiting for the in-flight ones to time out"
sleep 8
kill "$FIO_BG_PID" 2>/dev/null; wait "$FIO_BG_PID" 2>/dev/null
log "zero_copy_stats: bounces=$(tcmu_zc_stat zc09a bounces) bounce_failed=$(tcmu_zc_stat zc09a bounce_failed)"
[ "$(tcmu_zc_stat zc09a bounces)" -ge 1 ] || fail "no zero-copied command timed out with the daemon gone"
stack_start_runner || fail "tcmu-runner did not restart"
fio_run --name=zc --filename="$disk" --rw=randwrite --bs=1M --size=16M --iodepth=4 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 || fail "write+verify with a new daemon"
t_assert_window_empty zc09a "after the new daemon's I/O"
lio_lun_delete || fail "LUN removal"

