#!/bin/bash
# Stock TCMU, copy path: a data-in command that the daemon completes GOOD
# without writing all of its buffer must give the initiator zeroes there,
# never an earlier command's data (the data area is reused from command
# to command). Unpatched 7.2.8 returns the stale bytes:
#  1. a READ that handler_zctest ("untouched") completes without writing
#     after a WRITE of a pattern returns that pattern;
#  2. an INQUIRY with a 512-byte allocation length to a zcfile LUN, after
#     WRITEs of 0xa5 bytes, returns the response followed by 0xa5 bytes
#     (tcmu-runner writes the response only).
. "$(dirname "$0")/lib.sh"
need dd targetcli sg_raw od
[ -e "$STACK_HANDLER_DIR/handler_zctest.so" ] || skip "handler_zctest.so not built"
d=$T_TMP

bad=
# 1. READ completed without data
LIO_HANDLER=zctest
truncate -s 16M "$d/untouched"
head -c 1M /dev/urandom > "$d/pattern"
lio_lun_create tcmu01a 16M user "untouched@$d/untouched" "hw_max_sectors=2048" ||
	fail "LUN creation"
for i in 1 2 3; do
	dd if="$d/pattern" of="$LIO_DISK" bs=1M count=1 oflag=direct status=none || fail "dd write"
	dd if="$LIO_DISK" of="$d/back" bs=1M count=1 iflag=direct status=none || fail "dd read"
	nz=$(tr -d '\0' < "$d/back" | wc -c)
	log "READ $i completed without data: $nz non-zero byte(s) reached the initiator"
	[ "$nz" -eq 0 ] || { bad="$bad READ"; break; }
done
lio_lun_delete || fail "LUN removal"

# 2. INQUIRY padding
LIO_HANDLER=zcfile
truncate -s 16M "$d/inq"
lio_lun_create tcmu01b 16M user "$d/inq" || fail "LUN creation"
head -c 64k /dev/zero | tr '\0' '\245' > "$d/a5"
for i in 1 2 3; do
	dd if="$d/a5" of="$LIO_DISK" bs=64k count=1 oflag=direct status=none || fail "dd write"
	rm -f "$d/inq.out"
	sg_raw -r 512 -o "$d/inq.out" "$LIO_DISK" 12 00 00 02 00 00 >/dev/null 2>&1 &&
		[ -s "$d/inq.out" ] || fail "INQUIRY failed"
	n=$(( $(od -An -tu1 -j4 -N1 "$d/inq.out") + 5 ))
	got=$(stat -c %s "$d/inq.out")
	pad=$(tail -c +$((n + 1)) "$d/inq.out" | tr -d '\0' | wc -c)
	log "INQUIRY $i: $got bytes, response $n, $pad non-zero byte(s) after it"
	[ "$pad" -eq 0 ] || { bad="$bad INQUIRY"; break; }
done
[ -z "$bad" ] || fail "stale data reached the initiator:$bad"
