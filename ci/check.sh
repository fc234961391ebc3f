#!/bin/bash
# `make check`: host unit tests, then the in-guest suite (ci/tests) on the
# unpatched base kernel (the control: today's copy path) and on the patched
# kernel, both debug builds. Ends with one summary line:
#   check: N passed, N failed, N skipped
#
# usage: ci/check.sh [PATTERN...]   (test name patterns, e.g. 'test_io_*')
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
B=${BUILD:-$top/build}
cd "$top"
# Tools below (checkpatch.pl, ccache, targetcli) look for files under HOME.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
t0=$(date +%s)
pass=0 failn=0 skipn=0
res=$B/results
mkdir -p "$res" "$B/vmout"

count_tap() { # file
	local p f s
	p=$(grep -cE '^ok [0-9]+ ' "$1"); s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$1")
	f=$(grep -cE '^not ok [0-9]+ ' "$1")
	pass=$((pass + p - s)) skipn=$((skipn + s)) failn=$((failn + f))
	echo "check: $(basename "$1" .tap): $((p - s)) passed, $f failed, $s skipped"
}
bail() { echo "check: error: $*" >&2; failn=$((failn + 1)); }

ci/kernel-tree.sh || { echo "check: error: kernel trees could not be prepared" >&2; exit 1; }
make -s plugin || { echo "check: error: plugin build failed" >&2; exit 1; }
ci/tests/zctest/build.sh || { echo "check: error: test handler build failed" >&2; exit 1; }

echo "check: host unit tests"
if make -s -C tcmu-runner-plugin O="$B/plugin" test > "$res/unit.tap" 2>&1; then :; else
	grep -q '^not ok' "$res/unit.tap" || bail "unit tests did not run (see $res/unit.tap)"
fi
sed 's/^/    /' "$res/unit.tap"
count_tap "$res/unit.tap"

# The series (ci/series/series.py check): b4 prep --check runs checkpatch
# --strict on every patch (UNKNOWN_COMMIT_ID is ignored: the base tree has no
# upstream history to look a Fixes: sha up in); patches/ carries no
# placeholder identity and is byte for byte what make series-export writes.
echo "check: the series (b4)"
ci/series/series.py check > "$res/series.tap" 2>&1
sed 's/^/    /' "$res/series.tap"
grep -q '^1\.\.[0-9]' "$res/series.tap" || bail "the series check did not finish (see $res/series.tap)"
count_tap "$res/series.tap"

declare -A seen
# Which tests each kernel runs when no PATTERN is given. The base kernel is
# the control for the kernel-independent suite (zero copy off must behave as
# the unpatched kernel); the plugin and zero-copy tests need the patched one
# (they skip on base). test_plugin_06 is a benchmark, not a test: run it
# with `make check TESTS=test_plugin_06`.
base_tests=('test_io_*' 'test_fs_*' 'test_lun_*')
patched_tests=('test_io_*' 'test_fs_*' 'test_lun_*' 'test_mm_*' 'test_zc_*' 'test_plugin_0[1-5]')

for variant in base patched; do
	if [ $# -gt 0 ]; then
		pats=("$@")
	elif [ "$variant" = base ]; then
		pats=("${base_tests[@]}")
	else
		pats=("${patched_tests[@]}")
	fi
	img=$(ci/build-kernel.sh "$variant" debug) || { bail "$variant debug kernel build failed"; continue; }
	if [ -n "${seen[$img]:-}" ]; then
		echo "check: $variant kernel is identical to ${seen[$img]} (the series is empty): not booted twice"
		continue
	fi
	seen[$img]=$variant
	ci/build-selftests.sh "$variant" >/dev/null || { bail "$variant selftests build failed"; continue; }
	tap=$B/vmout/check-$variant.tap
	rm -f "$B/vmout/check-$variant"*
	echo "check: booting the $variant debug kernel ($img)"
	ci/vm-run.sh -k "$img" -m 3G -t 3000 -l "$B/logs/check-$variant.log" \
		-e "ZC_INJECT=${ZC_INJECT:-}" -e "ZC_VARIANT=$variant" -- ci/tests/run-tests.sh -t 900 -o "$tap" "${pats[@]}"
	rc=$?
	if [ -s "$tap" ]; then
		cp "$B/vmout/check-$variant"* "$res/"
		count_tap "$tap"
	fi
	case $rc in
	0) ;;
	253) bail "$variant: the kernel logged a splat outside any test (see $B/logs/check-$variant.log)" ;;
	254) bail "$variant: guest hung (see $B/logs/check-$variant.log)" ;;
	255) bail "$variant: guest died: panic or init crash (see $B/logs/check-$variant.log)" ;;
	*) [ -s "$tap" ] || bail "$variant: test run failed with status $rc and no results" ;;
	esac
done

echo "check: finished in $(( $(date +%s) - t0 ))s; results in $res"
echo "check: $pass passed, $failn failed, $skipn skipped"
[ $failn -eq 0 ]
