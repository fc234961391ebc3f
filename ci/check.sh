#!/bin/bash
# `make check` and `make control`. Ends with one summary line:
#   check: N passed, N failed, N skipped
#
# usage: ci/check.sh [--control] [PATTERN...]
#
# make check: host-side checks first (every tracked file listed in its
# folder's README, every test in ci/tests/tests.list, shellcheck, the
# control reference current), the plugin's unit tests, checkpatch on the
# series, then the in-guest suite (the tests.list "patched" column) on the
# patched debug kernel. test_lun_02 compares what the patched kernel shows
# with the unpatched kernel's transcript, checked in under ci/tests/control/.
#
# make control (--control): the "base" column on the unpatched base debug
# kernel; when it passes, ci/tests/control/ is rewritten from its results
# (the transcript, and each test's result with the hash of the script that
# ran): commit it.
#
# PATTERN: run only the listed tests whose names match (any column).
# Environment: T_INJECT=corrupt, T_TRACE=1 (each test's commands with their
# start times into build/vmout/NAME.trace), ZC05_COPY=1, V=1 (stream the
# console).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
B=${BUILD:-$top/build}
cd "$top"
. ci/vm/lib.sh
# Tools below (checkpatch.pl, ccache, targetcli) look for files under HOME.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
suite=patched
[ "${1:-}" != --control ] || { suite=base; shift; }
t0=$(date +%s)
pass=0 failn=0 skipn=0
res=$B/results
ctl=ci/tests/control
list=ci/tests/tests.list
BOOT_LIMIT=600	# boot, stack start and power-off under TCG, on top of the tests' limits
mkdir -p "$res" "$B/vmout"

count_tap() { # file
	local p f s
	p=$(grep -cE '^ok [0-9]+ ' "$1"); s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$1")
	f=$(grep -cE '^not ok [0-9]+ ' "$1")
	pass=$((pass + p - s)) skipn=$((skipn + s)) failn=$((failn + f))
	echo "check: $(basename "$1" .tap): $((p - s)) passed, $f failed, $s skipped"
}
bail() { echo "check: error: $*" >&2; failn=$((failn + 1)); }
show() { sed 's/^/    /' "$1"; count_tap "$1"; }

# "NAME LIMIT" of the tests of a column (base | patched | all).
list_tests() {
	awk -v k="$1" '!/^[[:space:]]*(#|$)/ {
		w = 0; for (i = 3; i <= NF; i++) if ($i == k) w = 1
		if (k == "all" || w) print $1, $2 }' "$list"
}

# ---- host-side checks, before anything is built ----
layout_checks() {
	local n=0 f d rel readme bad out name lim sha
	# Every file git tracks (or would: not ignored) is named in the README
	# of its folder, or of the nearest folder above it that has one (by
	# its path from there, with or without its extension).
	bad=
	while read -r f; do
		[ "${f##*/}" != README.md ] && [ -e "$f" ] || continue
		d=$(dirname "$f") readme=
		while :; do
			[ -f "$d/README.md" ] && { readme=$d/README.md; break; }
			case $d in */*) d=$(dirname "$d") ;; *) break ;; esac
		done
		rel=${f#"$d"/}
		if [ -z "$readme" ]; then
			bad+="$f: no README.md in its folder"$'\n'
		elif ! grep -qF -e "$rel" -e "\`${rel%.*}\`" "$readme"; then
			bad+="$f: not listed in $readme (as $rel)"$'\n'
		fi
	done < <(git ls-files --cached --others --exclude-standard ci kernel-config tcmu-runner-plugin docs 2>/dev/null)
	n=$((n + 1))
	if [ -z "$bad" ]; then echo "ok $n every tracked file is listed in its folder's README"
	else echo "not ok $n every tracked file is listed in its folder's README"; printf '%s' "$bad" | sed 's/^/# /'; fi

	# tests.list names every test, and only tests that exist.
	bad=
	for f in ci/tests/test_*.sh; do
		name=$(basename "$f" .sh)
		list_tests all | grep -q "^$name " || bad+="$f: in no line of $list (it would never run)"$'\n'
	done
	while read -r name lim; do
		[ -f "ci/tests/$name.sh" ] || bad+="$list names $name: no ci/tests/$name.sh"$'\n'
		[[ $lim =~ ^[0-9]+$ ]] || bad+="$list: $name has no time limit in seconds ('$lim')"$'\n'
	done < <(list_tests all)
	n=$((n + 1))
	if [ -z "$bad" ]; then echo "ok $n $list names every test"
	else echo "not ok $n $list names every test"; printf '%s' "$bad" | sed 's/^/# /'; fi

	n=$((n + 1))
	if out=$(git ls-files --cached --others --exclude-standard '*.sh' | xargs shellcheck -S error 2>&1); then
		echo "ok $n shellcheck -S error"
	else echo "not ok $n shellcheck -S error"; echo "$out" | sed 's/^/# /'; fi

	# The control reference: every base test passed on the base kernel,
	# as the script is now.
	bad=
	[ -s "$ctl/lun02.txt" ] || bad+="$ctl/lun02.txt missing"$'\n'
	while read -r name lim; do
		sha=$(sha256sum < "ci/tests/$name.sh" | cut -c1-16)
		grep -q "^$name $sha ok" "$ctl/results.txt" 2>/dev/null ||
			bad+="$name: no passing result for this version of ci/tests/$name.sh in $ctl/results.txt"$'\n'
	done < <(list_tests base)
	n=$((n + 1))
	if [ "$suite" = base ]; then echo "ok $n the control results ($ctl) are current # SKIP make control rewrites them"
	elif [ -z "$bad" ]; then echo "ok $n the control results ($ctl) are current"
	else
		echo "not ok $n the control results ($ctl) are current"
		{ printf '%s' "$bad"; echo "run \`make control\` (the base debug kernel) and commit $ctl"; } | sed 's/^/# /'
	fi
	echo "1..$n"
}
echo "check: host-side checks"
layout_checks > "$res/host.tap"
show "$res/host.tap"
if [ $failn -gt 0 ] && [ $# -eq 0 ]; then
	echo "check: the host-side checks failed (above): fix them first; nothing was built or booted"
	echo "check: $pass passed, $failn failed, $skipn skipped"
	exit 1
fi

# The selection: NAME LIMIT lines, on the shared output directory.
sel=$B/vmout/$suite.list
if [ $# -gt 0 ]; then
	while read -r name lim; do
		for p; do
			# shellcheck disable=SC2053
			[[ $name == $p ]] && { echo "$name $lim"; break; }
		done
	done < <(list_tests all) > "$sel"
else
	list_tests "$suite" > "$sel"
fi
[ -s "$sel" ] || { echo "check: error: no test in $list matches: $*" >&2; exit 1; }
# The guest's limit follows from the tests it runs.
guest_limit=$(awk -v b=$BOOT_LIMIT '{ s += $2 } END { print s + b }' "$sel")

ci/kernel/kernel-tree.sh || { echo "check: error: kernel trees could not be prepared" >&2; exit 1; }
make -s plugin || { echo "check: error: plugin build failed" >&2; exit 1; }

echo "check: host unit tests"
if make -s -C tcmu-runner-plugin O="$B/plugin" test > "$res/unit.tap" 2>&1; then :; else
	grep -q '^not ok' "$res/unit.tap" || bail "unit tests did not run (see $res/unit.tap)"
fi
show "$res/unit.tap"

# The series (ci/series/series.py check): b4 prep --check runs checkpatch
# --strict on every patch (UNKNOWN_COMMIT_ID is ignored: the base tree has no
# upstream history to look a Fixes: sha up in); patches/ carries no
# placeholder identity and is byte for byte what make series-export writes.
echo "check: the series (b4)"
ci/series/series.py check > "$res/series.tap" 2>&1
grep -q '^1\.\.[0-9]' "$res/series.tap" || bail "the series check did not finish (see $res/series.tap)"
show "$res/series.tap"

# Each patch on its own: the objects it touches build with W=1 and sparse,
# without warnings the same objects did not have before it (bisectable).
echo "check: every patch builds on its own (W=1, sparse)"
ci/series/patch-build.sh > "$res/series-build.tap" 2>&1
grep -q '^1\.\.[0-9]' "$res/series-build.tap" || bail "the per-patch build did not finish (see $res/series-build.tap)"
show "$res/series-build.tap"

run_suite() {
	local img tap rc
	img=$(ci/kernel/build-kernel.sh "$suite" debug) || { bail "$suite debug kernel build failed"; return; }
	ci/kernel/build-selftests.sh "$suite" >/dev/null || { bail "$suite selftests build failed"; return; }
	tap=$B/vmout/$suite.tap
	rm -f "$B/vmout/$suite"*.tap "$B/vmout/$suite"-*.dmesg "$B/vmout/$suite"-*.txt
	echo "check: booting the $suite debug kernel ($img): $(wc -l < "$sel") tests, guest limit ${guest_limit}s"
	ci/vm/vm-run.sh -k "$img" -m 3G -t "$guest_limit" -l "$B/logs/$suite.log" -a "kasan_multi_shot log_buf_len=8M" $([ "${V:-0}" = 0 ] || echo -v) \
		-e "T_INJECT=${T_INJECT:-}" -e "T_TRACE=${T_TRACE:-}" -e "ZC05_COPY=${ZC05_COPY:-}" \
		-e "T_KERNEL=$suite" -e "T_OUT=$B/vmout" \
		-- ci/tests/run-tests.sh -o "$tap" "$sel"
	rc=$?
	if [ -s "$tap" ]; then
		cp "$tap" "$B/vmout/$suite"-*.dmesg "$B/vmout/$suite"-*.txt "$res/" 2>/dev/null
		count_tap "$tap"
	fi
	case $rc in
	0) ;;
	253|254|255) bail "$suite: $(vm_status_text $rc) (console: $B/logs/$suite.log)" ;;
	*) [ -s "$tap" ] || bail "$suite: test run failed with status $rc and no results" ;;
	esac
	[ "$suite" = base ] && [ $rc -eq 0 ] && [ $failn -eq 0 ] && save_control "$tap"
}

# make control: the results become the checked-in reference.
save_control() { # tap
	local name sha r
	[ -s "$B/vmout/base-lun02.txt" ] && cp "$B/vmout/base-lun02.txt" "$ctl/lun02.txt"
	{
		echo "# make control: each base test's result on the unpatched base debug kernel,"
		echo "# with the hash (sha256, 16 digits) of the script that ran. Written by"
		echo "# ci/check.sh --control; make check requires a passing line for the"
		echo "# current version of every base test in ci/tests/tests.list."
		echo "# $(grep -m1 '^# kernel' "$1" | sed 's/^# //'), $(git -C "$B/worktree/base" log -1 --format='base %h %s')"
		while read -r name _; do
			if r=$(grep -E "^ok [0-9]+ $name # " "$1"); then
				sha=$(sha256sum < "ci/tests/$name.sh" | cut -c1-16)
				echo "$name $sha ok ${r##*# }"
			else
				grep "^$name " "$ctl/results.txt" 2>/dev/null # not run now: kept
			fi
		done < <(list_tests base)
	} > "$ctl/results.txt.new"
	mv "$ctl/results.txt.new" "$ctl/results.txt"
	echo "check: control results written to $ctl (commit them)"
}

run_suite
echo "check: finished in $(( $(date +%s) - t0 ))s; results in $res"
echo "check: $pass passed, $failn failed, $skipn skipped"
[ $failn -eq 0 ]
