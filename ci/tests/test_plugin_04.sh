#!/bin/bash
# Bad zcfile config strings and sizes are refused through targetcli, with
# a message naming the problem, no backstore left behind, and nothing on
# disk touched. Config-string errors come back from the plugin's
# check_config over D-Bus and targetcli prints them ("cfgstring invalid:
# ..."); size errors are only known when tcmu-runner opens the device:
# targetcli then reports the failed creation and tcmu-runner's log has the
# plugin's message.
. "$(dirname "$0")/lib.sh"
need targetcli losetup sha1sum
d=$T_TMP
bs=/backstores/user:$LIO_HANDLER
truncate -s 16M "$d/good"
echo "data that must survive" | dd of="$d/good" conv=notrunc status=none
mkdir "$d/ro"
mount -t tmpfs -o size=4M tmpfs "$d/ro" || fail "mount tmpfs"
cleanup_push "umount $d/ro"
truncate -s 1M "$d/ro/file"
mount -o remount,ro "$d/ro" || fail "remount read-only"
truncate -s 8M "$d/small.img"
loopdev=$(losetup -f --show "$d/small.img") || skip "no loop device"
cleanup_push "losetup -d $loopdev"

fingerprint() { # files...
	local f
	for f; do
		if [ -e "$f" ]; then
			echo "$f $(stat -L -c '%s %Y %Z' "$f") $(sha1sum < "$f")"
		else
			echo "$f absent"
		fi
	done
}

# All refusals in one targetcli process (each start costs many seconds
# under emulation): "SIZE|CFGSTRING|EXPECTED MESSAGE|WHERE" (WHERE:
# targetcli, or log for errors only tcmu-runner's open() can see).
cases=(
	"16M|$d/missing|No such file or directory|targetcli"
	"16M|$d|is a directory|targetcli"
	"16M|relative/file|is not an absolute path|targetcli"
	"16M|/dev/null|neither a regular file nor a block device|targetcli"
	"1M|$d/ro/file|not readable and writable: Read-only file system|targetcli"
	"16M|$d/good;bogus=1|unknown option 'bogus'|targetcli"
	"16M|$d/good;direct=maybe|bad value 'maybe' for option direct|targetcli"
	"16M|$d/good;engine=aio|bad value 'aio' for option engine|targetcli"
	"16M|$d/good;depth=0|bad value '0' for option depth|targetcli"
	"16M|$d/good;depth|option depth needs a value|targetcli"
	"16M|$loopdev|block device $loopdev has only|log"
	"1000|$d/good|not a multiple of the block size|log"
)
cmds=()
for i in "${!cases[@]}"; do
	IFS='|' read -r size cfg want where <<<"${cases[i]}"
	cmds+=("$bs create name=bad$i size=$size cfgstring=$cfg")
done
before=$(fingerprint "$d/good" "$d/ro/file" "$loopdev" "$d/missing")
lines0=$(wc -l < "$STACK_TCMU_LOG" 2>/dev/null || echo 0)
# targetcli's own words, whatever its exit status; whether a backstore
# exists afterwards is what counts.
out=$(printf '%s\n' "set global auto_save_on_exit=false" "${cmds[@]}" exit |
	HOME=/root targetcli 2>&1)
runlog=$(tail -n +$((lines0 + 1)) "$STACK_TCMU_LOG")
after=$(fingerprint "$d/good" "$d/ro/file" "$loopdev" "$d/missing")
bad=0
for i in "${!cases[@]}"; do
	IFS='|' read -r size cfg want where <<<"${cases[i]}"
	if [ -n "$(ls -d "$LIO_CFS"/core/user_*/"bad$i" 2>/dev/null)" ]; then
		lio_targetcli "$bs delete bad$i"
		log "accepted: size=$size cfgstring=$cfg"
		bad=1
	elif [ "$where" = targetcli ]; then
		if grep -qF -- "$want" <<<"$out"; then
			log "refused '$cfg': $(grep -F -- "$want" <<<"$out" | head -n 1 | sed 's/^\/> //')"
		else
			log "targetcli did not say '$want' for '$cfg'"
			bad=1
		fi
	else
		if grep -qF -- "$want" <<<"$runlog"; then
			log "refused size=$size '$cfg'; runner log: $(grep -F -- "$want" <<<"$runlog" | head -n 1 | sed 's/^.* zcfile\/[^:]*: //')"
		else
			log "tcmu-runner's log does not say '$want' for size=$size '$cfg'"
			bad=1
		fi
	fi
done
nfail=$(grep -c "UserBackedStorageObject creation failed" <<<"$out")
log "targetcli reported $nfail failed creation(s) for the 2 open-time refusals"
[ "$nfail" -eq 2 ] || bad=1
[ "$before" = "$after" ] || { echo "$before"; echo "$after"; log "something on disk changed"; bad=1; }
if [ $bad = 1 ]; then
	echo "$out" | sed 's/^/# targetcli: /'
	fail "a bad config was not refused properly"
fi

# The same file is accepted with a good config (the refusals were not a
# broken setup).
lio_targetcli "$bs create name=good size=16M cfgstring=$d/good;engine=threads;depth=4" ||
	fail "a good config was refused"
cleanup_push "lio_targetcli '$bs delete good'"
[ -n "$(ls -d "$LIO_CFS"/core/user_*/good 2>/dev/null)" ] || fail "good backstore not in configfs"
log "good config accepted"
