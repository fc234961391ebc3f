#!/bin/bash
# Per-patch build check (TAP): for every patch of the series in order, the
# kernel objects it touches build with W=1 and sparse (C=1) without new
# warnings: each object is built before the patch (when it exists there)
# and after it, and the warnings are compared without their line numbers.
#
#   ci/series/patch-build.sh           (after ci/kernel/kernel-tree.sh)
#
# The series is build/worktree/patched (base + patches/ in series order,
# from make tree). The objects are built in build/worktree/patch-build, a
# detached worktree moved from commit to commit, into one object tree,
# build/kbuild/patch-build: tinyconfig + kvm_guest.config + guest, target
# and series fragments (the plain kernel's options; series.config's are
# kept across the patches that do not have them yet). Files that no
# object of this config builds (a dry run of their directories tells) are
# listed, not built: kbuild would compile them, without the declarations
# their config provides. Other architectures, selftests and docs are not
# built; headers are covered by the objects that include them in the full
# kernel build. The full kernel at the end is
# make check's own build.
# Sparse 0.6.4 (Debian 12) needs CF=-D__typeof_unqual__=__typeof__ for 7.x.
# JOBS (2), BUILD, KEEP_GOING=1 (go on after a failing patch).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
jobs=${JOBS:-2}
say() { echo "patch-build: $*" >&2; }
die() { say "error: $*"; exit 1; }

series_wt=$B/worktree/patched
base_wt=$B/worktree/base
[ -e "$series_wt/.git" ] && [ -e "$base_wt/.git" ] || die "run ci/kernel/kernel-tree.sh (make tree) first"
base=$(git -C "$base_wt" rev-parse HEAD)
tip=$(git -C "$series_wt" rev-parse HEAD)
mapfile -t commits < <(git -C "$series_wt" rev-list --reverse "$base..$tip")
[ ${#commits[@]} -gt 0 ] || die "the series is empty"

wt=$B/worktree/patch-build
obj=$B/kbuild/patch-build
mkdir -p "$obj" "$B/kbuild"
exec 8>"$obj.lock"
flock 8
if [ ! -e "$wt/.git" ]; then
	rm -rf "$wt"
	git -C "$series_wt" worktree add -q --detach "$wt" "$base" || die "worktree $wt"
fi

export ARCH=x86_64
export CCACHE_BASEDIR=$B CCACHE_NOHASHDIR=1
export CCACHE_DIR=${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}
mk=(make -s -C "$wt" O="$obj" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc"
	W=1 C=1 CF=-D__typeof_unqual__=__typeof__)
frags=("$top/kernel-config/guest.config" "$top/kernel-config/target.config"
	"$top/kernel-config/series.config")

at() { # commit: move the worktree there and configure for it
	git -C "$wt" checkout -q --detach "$1" || return 1
	if [ ! -s "$obj/full.config" ]; then
		say "configuring $obj"
		make -s -C "$wt" O="$obj" ARCH=x86_64 tinyconfig >/dev/null &&
		KCONFIG_CONFIG="$obj/.config" "$wt/scripts/kconfig/merge_config.sh" -m -O "$obj" \
			"$obj/.config" "$wt/kernel/configs/kvm_guest.config" "${frags[@]}" \
			>"$obj/merge.log" 2>&1 || { cat "$obj/merge.log" >&2; return 1; }
		cp "$obj/.config" "$obj/full.config"
	fi
	# Options of the series that this commit does not know yet are
	# dropped by olddefconfig here and come back with the patch that
	# adds them: start from the full set each time.
	cmp -s "$obj/full.config" "$obj/.config.in" 2>/dev/null && [ "$(cat "$obj/.at" 2>/dev/null)" = "$1" ] && return 0
	cp "$obj/full.config" "$obj/.config"
	cp "$obj/full.config" "$obj/.config.in"
	make -s -C "$wt" O="$obj" ARCH=x86_64 olddefconfig >/dev/null || return 1
	# Generated headers and host tools (objtool): the dry run below needs
	# them, and single-object builds expect them.
	"${mk[@]}" -j"$jobs" prepare >"$obj/prepare.log" 2>&1 || { cat "$obj/prepare.log" >&2; return 1; }
	echo "$1" > "$obj/.at"
}

# Sparse 0.6.4 reports "bad constant expression" for every MODULE_*() of a
# 7.x tree (MODULE_INFO): noise of that sparse, not of the code.
warnings() { # log: "file: warning|error: text" without line/column, sorted
	grep -E ':[0-9]+(:[0-9]+)?: (warning|error): ' "$1" |
		grep -v ': error: bad constant expression$' |
		sed -E 's|^([^:]*/)?worktree/patch-build/||; s|^(\.\./)+||; s/^([^: ]+):[0-9]+(:[0-9]+)?: /\1: /' |
		sort
}

build_objs() { # log objects...: 0 = built, 1 = failed
	local log=$1; shift
	local o rc=0
	for o in "$@"; do rm -f "$obj/$o"; done
	"${mk[@]}" -k -j"$jobs" "$@" >"$log" 2>&1 || rc=1
	return $rc
}

tap_n=0 failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n $*"; }
notok() { tap_n=$((tap_n + 1)); failed=$((failed + 1)); echo "not ok $tap_n $*"; }
comment() { sed 's/^/# /'; }

t0=$(date +%s)
n=${#commits[@]}
log=$obj/logs
mkdir -p "$log"
for i in "${!commits[@]}"; do
	c=${commits[$i]}
	k=$((i + 1))
	subj=$(git -C "$series_wt" log -1 --format=%s "$c")
	mapfile -t files < <(git -C "$series_wt" diff --name-only --diff-filter=AM "$c^" "$c" -- '*.c' |
		grep -v '^tools/' | grep -v '^arch/' ; git -C "$series_wt" diff --name-only --diff-filter=AM "$c^" "$c" -- 'arch/x86/*.c')
	objs=()
	for f in "${files[@]}"; do [ -n "$f" ] && objs+=("${f%.c}.o"); done
	if [ ${#objs[@]} -eq 0 ]; then
		ok "patch $k/$n: no kernel C file: $subj # SKIP nothing to build"
		continue
	fi
	s=$(date +%s)
	# After the patch, then the same objects before it (where their source
	# exists), each with -k. Kbuild builds any .c asked for, also one this
	# config does not use (nommu.c on an MMU kernel): an object that fails
	# before and after the patch is not buildable here and only its new
	# diagnostics count; one that built before and fails after, or a new
	# file that fails, is a failure.
	at "$c" || { notok "patch $k/$n: configure: $subj"; continue; }
	# Which of them this config builds: kbuild would compile any .c asked
	# for, also one outside the config (nommu.c, mapping_dirty_helpers.c
	# before something selects it), whose declarations are then missing.
	# A dry run of their directories names the objects kbuild would build.
	for o in "${objs[@]}"; do rm -f "$obj/$o"; done
	mapfile -t dirs < <(for o in "${objs[@]}"; do echo "$(dirname "$o")/"; done | sort -u)
	if ! dry=$("${mk[@]}" -n "${dirs[@]}" 2>"$log/$k.plan.err"); then
		notok "patch $k/$n: dry run of ${dirs[*]} failed (see $log/$k.plan.err): $subj"
		continue
	fi
	plan=$(grep -oE -- '-o [^ ]+\.o' <<<"$dry" | sed 's/^-o //')
	inconf=() outconf=()
	for o in "${objs[@]}"; do
		if grep -qx -- "$o" <<<"$plan"; then inconf+=("$o"); else outconf+=("$o"); fi
	done
	if [ ${#inconf[@]} -eq 0 ]; then
		ok "patch $k/$n: ${outconf[*]} not in this config: $subj # SKIP not built"
		continue
	fi
	objs=("${inconf[@]}")
	build_objs "$log/$k.after" "${objs[@]}"
	after_ok=()
	for o in "${objs[@]}"; do [ -s "$obj/$o" ] && after_ok+=("$o"); done
	before=()
	for o in "${objs[@]}"; do
		git -C "$series_wt" cat-file -e "$c^:${o%.o}.c" 2>/dev/null && before+=("$o")
	done
	: > "$log/$k.before"
	before_ok=()
	if [ ${#before[@]} -gt 0 ]; then
		at "$c^" || { notok "patch $k/$n: configure the parent: $subj"; continue; }
		build_objs "$log/$k.before" "${before[@]}"
		for o in "${before[@]}"; do [ -s "$obj/$o" ] && before_ok+=("$o"); done
	fi
	broken=() unbuildable=()
	for o in "${objs[@]}"; do
		[[ " ${after_ok[*]} " == *" $o "* ]] && continue
		if [[ " ${before[*]} " == *" $o "* ]] && [[ " ${before_ok[*]} " != *" $o "* ]]; then
			unbuildable+=("$o")
		else
			broken+=("$o")
		fi
	done
	new=$(comm -13 <(warnings "$log/$k.before") <(warnings "$log/$k.after"))
	checked=("${after_ok[@]}")
	what="patch $k/$n: ${checked[*]:-nothing} W=1 C=1, no new warnings ($(( $(date +%s) - s ))s): $subj"
	if [ ${#broken[@]} -gt 0 ]; then
		notok "patch $k/$n: ${broken[*]} fail to build (W=1 C=1): $subj"
		echo "$new" | grep -E ': error: ' | head -n 20 | comment
		[ "${KEEP_GOING:-}" = 1 ] || break
		continue
	elif [ -n "$new" ]; then
		notok "$what"
		echo "$new" | comment
	else
		ok "$what"
	fi
	[ ${#outconf[@]} -eq 0 ] || echo "# not in this config, not built: ${outconf[*]}"
	[ ${#unbuildable[@]} -eq 0 ] ||
		echo "# not buildable in this config (fails before the patch too; no new diagnostics): ${unbuildable[*]}"
done
echo "1..$tap_n"
say "$n patches in $(( $(date +%s) - t0 ))s; logs in $log"
[ $failed -eq 0 ]
