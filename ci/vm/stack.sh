#!/bin/bash
# The userspace half of the stack inside the guest (sourced): the system
# D-Bus, and Debian's tcmu-runner loading handlers from STACK_HANDLER_DIR
# (this project's plugin next to Debian's own handlers, ci/kernel/handlers.sh).
# tcmu-runner's own log is STACK_TCMU_LOG, its stdout/stderr STACK_RUNNER_LOG.
REPO_TOP=${REPO_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STACK_HANDLER_DIR=${STACK_HANDLER_DIR:-$REPO_TOP/build/handlers}
STACK_RUNNER_LOG=${STACK_RUNNER_LOG:-/var/log/tcmu/runner.out}
STACK_TCMU_LOG=${STACK_TCMU_LOG:-/var/log/tcmu/tcmu-runner.log}

_bus_has() {
	dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q 'boolean true'
}

stack_start_dbus() {
	[ -S /run/dbus/system_bus_socket ] && return 0
	mkdir -p /run/dbus /var/lib/dbus
	dbus-uuidgen --ensure
	dbus-daemon --system --fork --nopidfile || { echo "# dbus-daemon failed to start" >&2; return 1; }
}

stack_start_runner() {
	local i
	[ -e "$STACK_HANDLER_DIR/handler_zcfile.so" ] ||
		{ echo "# no handler_zcfile.so in $STACK_HANDLER_DIR (make plugin)" >&2; return 1; }
	mkdir -p "$(dirname "$STACK_RUNNER_LOG")" "$(dirname "$STACK_TCMU_LOG")"
	setsid tcmu-runner --handler-path "$STACK_HANDLER_DIR" --tcmu-log-dir "$(dirname "$STACK_TCMU_LOG")" \
		>>"$STACK_RUNNER_LOG" 2>&1 < /dev/null &
	for i in $(seq 1 600); do
		_bus_has org.kernel.TCMUService1 && return 0
		pgrep -x tcmu-runner >/dev/null || break
		sleep 0.1
	done
	echo "# tcmu-runner did not register on D-Bus; its log:" >&2
	tail -n 20 "$STACK_RUNNER_LOG" "$STACK_TCMU_LOG" 2>/dev/null | sed 's/^/#   /' >&2
	return 1
}

stack_alive() { pgrep -x tcmu-runner >/dev/null; }

stack_stop_runner() {
	local i
	pkill -x tcmu-runner || return 0
	for i in $(seq 1 100); do stack_alive || return 0; sleep 0.1; done
	pkill -9 -x tcmu-runner
}

stack_restart_runner() { stack_stop_runner; stack_start_runner; }

stack_start() { stack_start_dbus && stack_start_runner; }

stack_stop() {
	stack_stop_runner
	pkill -x dbus-daemon 2>/dev/null
	return 0
}
