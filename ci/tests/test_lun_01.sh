#!/bin/bash
# Teardown: deleting the LUN and the backstore with targetcli (the other
# tests delete through configfs, ci/vm/lib.sh) removes the SCSI disk, the
# configfs device and its uio device, leaves tcmu-runner running, and the
# data written is in the backing file.
. "$(dirname "$0")/lib.sh"
need targetcli
d=$T_TMP
truncate -s 16M "$d/backing"
uio0=$(lio_uio_count)
lio_lun_create lun01 16M user "$d/backing" || fail "LUN creation"
disk=$LIO_DISK
[ "$(lio_uio_count)" -eq $((uio0 + 1)) ] || fail "expected one new uio device"
dd if=/dev/urandom of="$d/data" bs=64k count=16 status=none
dd if="$d/data" of="$disk" bs=64k oflag=direct status=none || fail "write"
bsdir=$(lio_backstore_dir lun01)
lio_lun_delete --targetcli || fail "delete"
[ ! -e "$disk" ] || fail "$disk still present"
[ ! -e "$bsdir" ] || fail "$bsdir still present"
[ "$(lio_uio_count)" -eq "$uio0" ] || fail "uio device leaked ($(ls /sys/class/uio))"
stack_pid=$(pgrep -x tcmu-runner) || fail "tcmu-runner died"
cmp -n $((64 * 1024 * 16)) "$d/data" "$d/backing" || fail "backing file does not hold the data"
log "teardown clean (tcmu-runner pid $stack_pid still running)"
