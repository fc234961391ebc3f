#!/bin/bash
# Configure and build a guest kernel.
#
#   ci/kernel/build-kernel.sh VARIANT FLAVOR
#     VARIANT  base | patched   (source: build/worktree/VARIANT, see kernel-tree.sh),
#              or any other name with DEV_TREE=<kernel tree>: that tree, as it
#              is (a development branch of the series), with the series' options
#     FLAVOR   plain | debug    (debug adds kernel-config/debug.config)
#
# Environment: JOBS (make -j, default: the number of CPUs), EXTRA_CONFIG
# (more fragment files, space-separated), CCACHE_DIR (default ~/.cache/ccache),
# BUILD (default build/).
#
# Config: tinyconfig + kernel/configs/kvm_guest.config + kernel-config/*.config
# (guest, target, and debug for FLAVOR=debug). Every option a fragment asks
# for must end up in .config, or the build stops naming it.
# The object tree is build/kbuild/VARIANT-FLAVOR (incremental: a new series
# rebuilds what it touches, ccache catches the rest). While the series is
# empty, patched-FLAVOR is a link to base-FLAVOR: one build for both.
# Prints the bzImage path on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
variant=${1:?usage: build-kernel.sh base|patched plain|debug}
flavor=${2:?usage: build-kernel.sh base|patched plain|debug}
die() { echo "build-kernel: error: $*" >&2; exit 1; }
say() { echo "build-kernel: $*" >&2; }

case $variant in
base|patched) [ -z "${DEV_TREE:-}" ] || die "DEV_TREE= takes a variant name other than base/patched" ;;
*) [ -n "${DEV_TREE:-}" ] || die "unknown variant '$variant' (base, patched, or a name with DEV_TREE=<tree>)";;
esac
frags=("$top/kernel-config/guest.config" "$top/kernel-config/target.config")
case $flavor in
plain) ;;
debug) frags+=("$top/kernel-config/debug.config") ;;
*) die "unknown flavor '$flavor'";;
esac
[ -z "${EXTRA_CONFIG:-}" ] || frags+=($EXTRA_CONFIG)

src=${DEV_TREE:-$B/worktree/$variant}
[ -e "$src/.git" ] || die "$src missing: run ci/kernel/kernel-tree.sh (make tree) first"
[ -z "${DEV_TREE:-}" ] || frags+=("$top/kernel-config/series.config")
tree=$(git -C "$src" rev-parse HEAD^{tree})
obj=$B/kbuild/$variant-$flavor
mkdir -p "$B/kbuild"
# An identical tree builds once, in base's object dir; a real series adds
# the options it introduces (series.config).
if [ "$variant" = patched ]; then
	if [ "$(git -C "$B/worktree/base" rev-parse HEAD^{tree})" = "$tree" ]; then
		src=$B/worktree/base
		[ -L "$obj" ] || rm -rf "$obj"
		ln -sfn "base-$flavor" "$obj"
		obj=$B/kbuild/base-$flavor
	else
		[ ! -L "$obj" ] || rm -f "$obj"
		frags+=("$top/kernel-config/series.config")
	fi
fi
mkdir -p "$obj"
# One build at a time per object tree (two makes in one O= dir corrupt it).
exec 8>"$obj.lock"
flock 8

export ARCH=x86_64
export CCACHE_BASEDIR=$B CCACHE_NOHASHDIR=1
export CCACHE_DIR=${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}
ccache -M 8G >/dev/null 2>&1 || true
mk=(make -s -C "$src" O="$obj" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc")
jobs=${JOBS:-$(nproc)}

# Every requested option must be in .config (after olddefconfig, and still
# after later builds: a Kconfig symbol that vanished for one build, e.g. a
# reverted patch, is silently dropped from .config by syncconfig).
config_ok() {
	local f line opt bad=0
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			case $line in
			CONFIG_*=*)
				opt=${line%%=*}
				grep -qx -- "$line" "$obj/.config" 2>/dev/null || {
					[ "${1:-}" = quiet ] ||
					say "$(basename "$f"): $line requested, .config has: $(grep -E "^$opt=|^# $opt is not set" "$obj/.config" || echo 'nothing')"
					bad=1; }
				;;
			"# CONFIG_"*" is not set")
				opt=${line#\# }; opt=${opt%% *}
				if grep -q "^$opt=" "$obj/.config" 2>/dev/null; then
					[ "${1:-}" = quiet ] || say "$(basename "$f"): $opt must be off, .config has it on"
					bad=1
				fi
				;;
			esac
		done < "$f"
	done
	return $bad
}

stamp=$obj/.config-stamp
want=$(cat "${frags[@]}" "$src/kernel/configs/kvm_guest.config" | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! config_ok quiet; then
	say "configuring $variant/$flavor in $obj"
	rm -f "$stamp"
	"${mk[@]}" tinyconfig >/dev/null
	KCONFIG_CONFIG="$obj/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" \
		"$obj/.config" "$src/kernel/configs/kvm_guest.config" "${frags[@]}" >"$obj/merge.log" 2>&1 ||
		{ cat "$obj/merge.log" >&2; die "merge_config failed"; }
	"${mk[@]}" olddefconfig >/dev/null
	config_ok || die "requested options missing from .config (dependencies not met?)"
	echo "$want" > "$stamp"
fi

say "building $variant/$flavor (j$jobs)"
start=$(date +%s)
if ! "${mk[@]}" -j"$jobs" bzImage >"$obj/build.log" 2>&1; then
	grep -E 'error|Error' "$obj/build.log" | head -n 40 >&2
	die "kernel build failed; full log: $obj/build.log"
fi
say "built $variant/$flavor in $(( $(date +%s) - start ))s"
echo "$obj/arch/x86/boot/bzImage"
