#!/bin/bash
# In-guest test runner: starts the stack (dbus, tcmu-runner with this
# project's handler), runs test_*.sh in order, each under a timeout, and
# prints TAP. After each test the kernel log written since the test's
# marker is scanned; a WARNING, BUG, Oops, KASAN or lockdep report fails
# the test that caused it.
#
# usage: run-tests.sh [-o TAPFILE] [-t SECONDS] [PATTERN...]
#   PATTERN   shell patterns matched against test names (default: all)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tap=/dev/null tmo=600
while getopts "o:t:" o; do
	case $o in
	o) tap=$OPTARG ;;
	t) tmo=$OPTARG ;;
	*) echo "usage: $0 [-o TAPFILE] [-t SECONDS] [PATTERN...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- '*'

. "$here/../guest/stack.sh"

splat=$(cat "$here/../splat.ere")

tests=()
for t in "$here"/test_*_[0-9][0-9].sh; do
	n=$(basename "$t" .sh)
	for p; do
		# shellcheck disable=SC2053
		[[ $n == $p ]] && { tests+=("$t"); break; }
	done
done

: > "$tap"
emit() { echo "$*"; echo "$*" >> "$tap"; }

emit "TAP version 13"
emit "# kernel $(uname -r) ($(uname -v))"
if ! stack_start; then
	emit "Bail out! the storage stack did not start (see above)"
	exit 1
fi

n=0 pass=0 failn=0 skipn=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=$(basename "$t" .sh)
	echo "<6>zc-test: start $name" > /dev/kmsg
	start=$(date +%s.%N)
	timeout -k 10 "$tmo" bash "$t" 2>&1 | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
	echo "<6>zc-test: end $name rc=$rc" > /dev/kmsg
	splats=$(dmesg | sed -n "/zc-test: start $name\$/,\$p" | grep -E "$splat")
	if [ -n "$splats" ]; then
		emit "not ok $n $name # kernel reported problems"
		echo "$splats" | head -n 20 | sed 's/^/# dmesg: /' | tee -a "$tap"
		dmesg | sed -n "/zc-test: start $name\$/,\$p" > "${tap%.tap}-$name.dmesg" 2>/dev/null
		failn=$((failn + 1))
	elif [ "$rc" -eq 0 ]; then
		emit "ok $n $name # ${secs}s"
		pass=$((pass + 1))
	elif [ "$rc" -eq 4 ]; then
		emit "ok $n $name # SKIP"
		skipn=$((skipn + 1))
	elif [ "$rc" -eq 124 ]; then
		emit "not ok $n $name # timeout after ${tmo}s"
		failn=$((failn + 1))
	else
		emit "not ok $n $name # exit $rc"
		failn=$((failn + 1))
	fi
	if ! stack_alive; then
		emit "# tcmu-runner died during $name; restarting it"
		stack_restart_runner || { emit "Bail out! tcmu-runner cannot be restarted"; break; }
	fi
done
stack_stop
emit "1..$n"
emit "# $pass passed, $failn failed, $skipn skipped"
[ $failn -eq 0 ]
