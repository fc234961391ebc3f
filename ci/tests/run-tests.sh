#!/bin/bash
# In-guest test runner: starts the stack (dbus, tcmu-runner with this
# project's handler), runs the tests of a selection in order, each under
# its own time limit, and prints TAP. After each test the kernel log
# written since the test's marker is scanned; a WARNING, BUG, Oops, KASAN
# or lockdep report fails the test that caused it.
#
# usage: run-tests.sh [-o TAPFILE] SELECTION
#   SELECTION  a file of "NAME SECONDS" lines (ci/check.sh writes it from
#              ci/tests/tests.list): ci/tests/NAME.sh, killed after SECONDS
#   -o FILE    the TAP also goes to FILE (on the shared output directory)
#
# Environment for the tests: T_KERNEL (base | patched), T_OUT (a directory
# for files the host keeps), T_INJECT (corrupt: test_io_02 breaks on
# purpose).
set -u
here=$(cd "$(dirname "$0")" && pwd)
tap=/dev/null
while getopts "o:h" o; do
	case $o in
	o) tap=$OPTARG ;;
	*) sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] && [ -r "$1" ] || { echo "run-tests: usage: run-tests.sh [-o TAPFILE] SELECTION" >&2; exit 2; }
sel=$1

. "$here/../vm/stack.sh"
splat=$(cat "$here/../vm/splat.ere")

: > "$tap"
emit() { echo "$*"; echo "$*" >> "$tap"; }

emit "TAP version 13"
emit "# kernel $(uname -r) ($(uname -v))"
if ! stack_start; then
	emit "Bail out! the storage stack did not start (see above)"
	exit 1
fi

n=0 pass=0 failn=0 skipn=0
while read -r name tmo; do
	n=$((n + 1))
	echo "<6>run-tests: start $name" > /dev/kmsg
	start=$(date +%s.%N)
	timeout -k 10 "$tmo" bash "$here/$name.sh" 2>&1 </dev/null | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
	echo "<6>run-tests: end $name rc=$rc" > /dev/kmsg
	# The kernel log since this test's marker; if the marker is gone (the
	# log wrapped: many reports), all of it, so a report is never missed.
	klog=$(dmesg)
	if grep -q "run-tests: start $name\$" <<<"$klog"; then
		klog=$(sed -n "/run-tests: start $name\$/,\$p" <<<"$klog")
	else
		emit "# the kernel log wrapped during $name: scanning all of it"
	fi
	splats=$(grep -E "$splat" <<<"$klog")
	if [ -n "$splats" ]; then
		emit "not ok $n $name # ${secs}s, kernel reported problems"
		echo "$splats" | head -n 20 | sed 's/^/# dmesg: /' | tee -a "$tap"
		echo "$klog" > "${tap%.tap}-$name.dmesg" 2>/dev/null
		failn=$((failn + 1))
	elif [ "$rc" -eq 0 ]; then
		emit "ok $n $name # ${secs}s"
		pass=$((pass + 1))
	elif [ "$rc" -eq 4 ]; then
		emit "ok $n $name # SKIP ${secs}s"
		skipn=$((skipn + 1))
	elif [ "$rc" -eq 124 ]; then
		emit "not ok $n $name # timeout: over its limit of ${tmo}s (ci/tests/tests.list)"
		failn=$((failn + 1))
	else
		emit "not ok $n $name # ${secs}s, exit $rc"
		failn=$((failn + 1))
	fi
	if ! stack_alive; then
		emit "# tcmu-runner died during $name; restarting it"
		stack_restart_runner || { emit "Bail out! tcmu-runner cannot be restarted"; break; }
	fi
done < "$sel"
stack_stop
emit "1..$n"
emit "# $pass passed, $failn failed, $skipn skipped"
[ $failn -eq 0 ]
