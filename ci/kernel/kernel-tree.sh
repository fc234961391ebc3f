#!/bin/bash
# Prepare the kernel source trees:
#   build/worktree/base     the unpatched base (the control)
#   build/worktree/patched  the base with patches/ applied by `git am` in
#                           `series` order, on branch $APPLIED_BRANCH
#                           (default tcmu-zc-applied)
#
# Without KERNEL_SRC the base is the upstream orig tarball (without Debian's
# patches) of Debian's `linux` source package version KDEB (default: the
# one the series targets), turned into a git repository with one base
# commit under build/linux.git. The versions the archive serves are looked
# up first; when KDEB is not among them the script stops and names the
# choices (another served version, KERNEL_SRC=, APT_MIRROR=).
# With KERNEL_SRC=<git tree> the base is that tree's HEAD; the series is
# applied on a new branch of that tree (in a worktree under build/, so the
# tree's own checkout is not touched).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
mkdir -p "$B"
# One tree update at a time (make check, make bench and make demo may overlap).
exec 9>"$B/.kernel-tree.lock"
flock 9
SERIES_KDEB=7.2.8-1		# the base the series is made for
KDEB=${KDEB:-$SERIES_KDEB}	# Debian's version of the linux source package
KVER=${KDEB%-*}			# its upstream version (the orig tarball's)
APPLIED_BRANCH=${APPLIED_BRANCH:-tcmu-zc-applied}

die() { echo "kernel-tree: error: $*" >&2; exit 1; }
say() { echo "kernel-tree: $*" >&2; }

own_repo() {
	local repo=$B/linux.git src=$B/src
	if git -C "$repo" rev-parse -q --verify refs/tags/base >/dev/null 2>&1; then
		echo "$repo"; return
	fi
	mkdir -p "$src"
	local orig=$src/linux_$KVER.orig.tar.xz
	if [ ! -s "$orig" ]; then
		check_served
		say "fetching Debian source package linux=$KDEB"
		(cd "$src" && "$here/apt-private.sh" source --download-only "linux=$KDEB" >&2) ||
			die "could not download linux=$KDEB from ${APT_MIRROR:-the Debian archive}"
	fi
	[ -s "$orig" ] || die "$orig missing after download"
	say "unpacking $(basename "$orig")"
	rm -rf "$repo.tmp"; mkdir -p "$repo.tmp"
	tar -C "$repo.tmp" --strip-components=1 -xf "$orig"
	[ -f "$repo.tmp/Makefile" ] || die "unexpected tarball layout in $orig"
	(
		cd "$repo.tmp"
		git init -q -b base
		git config user.name "tcmu-zc harness"
		git config user.email "tcmu-zc@localhost"
		git config core.autocrlf false
		git config gc.auto 0
		git add -A
		# A deterministic commit (fixed identity, the tarball's date), so
		# the cover letter's base-commit is the same on every machine.
		d="@$(stat -c %Y Makefile) +0000"
		GIT_AUTHOR_DATE=$d GIT_COMMITTER_DATE=$d \
		GIT_AUTHOR_NAME="Linux $KVER" GIT_AUTHOR_EMAIL="linux@localhost" \
		GIT_COMMITTER_NAME="Linux $KVER" GIT_COMMITTER_EMAIL="linux@localhost" \
			git commit -q -m "Linux $KVER (Debian linux_$KVER.orig.tar.xz)"
		git tag base
	)
	mv "$repo.tmp" "$repo"
	echo "$repo"
}

# Stop, naming the choices, when the archive no longer serves linux=KDEB.
check_served() {
	local served
	served=$("$here/apt-private.sh" apt-cache madison linux 2>/dev/null |
		awk -F'|' '/Sources/ { gsub(/ /, "", $2); print $2 }' | sort -uV)
	grep -qxF -- "$KDEB" <<<"$served" && return 0
	{
		echo "kernel-tree: error: the package archive (${APT_MIRROR:-the Debian archive}) does not serve linux=$KDEB$([ "$KDEB" != "$SERIES_KDEB" ] || echo ', the base the series is made for')."
		echo "  It serves: $(echo $served)"
		echo "  Choices:"
		echo "  - another served version: KDEB=<version> (the series may not apply to it)"
		echo "  - your own Linux $KVER git tree: KERNEL_SRC=<tree>"
		echo "  - a mirror or snapshot of the archive that still has it: APT_MIRROR=<url>"
	} >&2
	exit 1
}

check_kernel_src() {
	local d=$1
	[ -d "$d" ] || die "KERNEL_SRC=$d: no such directory"
	git -C "$d" rev-parse --git-dir >/dev/null 2>&1 ||
		die "KERNEL_SRC=$d is not a git tree (git init it, or leave KERNEL_SRC unset)"
	[ -f "$d/Makefile" ] && grep -q '^VERSION = ' "$d/Makefile" ||
		die "KERNEL_SRC=$d does not look like a Linux source tree (no top-level Makefile)"
	local v p
	v=$(sed -n 's/^VERSION = //p' "$d/Makefile")
	p=$(sed -n 's/^PATCHLEVEL = //p' "$d/Makefile")
	[ "$v.$p" = "${KVER%.*}" ] ||
		say "warning: KERNEL_SRC is Linux $v.$p, the series is made for $KVER"
}

if [ -n "${KERNEL_SRC:-}" ]; then
	ks=$(cd "$KERNEL_SRC" 2>/dev/null && pwd) || die "KERNEL_SRC=$KERNEL_SRC: no such directory"
	KERNEL_SRC=$ks
	check_kernel_src "$KERNEL_SRC"
	repo=$KERNEL_SRC
	# The base is remembered the first time so that re-running after the
	# branch moved does not stack the series on itself.
	base_ref=refs/tcmu-zc/base
	if ! git -C "$repo" rev-parse -q --verify "$base_ref" >/dev/null; then
		cur=$(git -C "$repo" rev-parse HEAD)
		git -C "$repo" update-ref "$base_ref" "$cur"
	fi
	base=$(git -C "$repo" rev-parse "$base_ref")
else
	repo=$(own_repo)
	base=$(git -C "$repo" rev-parse refs/tags/base)
fi

wt=$B/worktree
mkdir -p "$wt"
git -C "$repo" worktree prune
# Worktrees left by another repository (KERNEL_SRC switched): start over.
common=$(cd "$repo" && cd "$(git rev-parse --git-common-dir)" && pwd)
for v in base patched; do
	[ -e "$wt/$v/.git" ] || continue
	c=$(cd "$wt/$v" && cd "$(git rev-parse --git-common-dir)" 2>/dev/null && pwd)
	if [ "$c" != "$common" ]; then
		say "replacing $wt/$v (a worktree of another repository)"
		rm -rf "${wt:?}/$v" "$wt/.patched-stamp"
		git -C "$c" worktree prune 2>/dev/null || true
	fi
done

# The base worktree: detached at the base commit.
if [ ! -e "$wt/base/.git" ]; then
	rm -rf "$wt/base"
	git -C "$repo" worktree add -q --detach "$wt/base" "$base"
else
	[ "$(git -C "$wt/base" rev-parse HEAD)" = "$base" ] ||
		git -C "$wt/base" checkout -q --detach "$base"
fi

# The patched worktree: $APPLIED_BRANCH = base + series.
mapfile -t plist < <(grep -v '^[[:space:]]*\(#\|$\)' "$top/series" 2>/dev/null | awk '{print $1}')
for p in "${plist[@]}"; do
	[ -f "$top/patches/$p" ] || die "series names $p, which is not in patches/"
done
stamp=$( (echo "$base $APPLIED_BRANCH"; for p in "${plist[@]}"; do sha256sum "$top/patches/$p"; done) | sha256sum | cut -c1-16)
if [ ! -e "$wt/patched/.git" ]; then
	rm -rf "$wt/patched"
	git -C "$repo" worktree add -q -B "$APPLIED_BRANCH" "$wt/patched" "$base"
	rm -f "$wt/.patched-stamp"
fi
if [ "$(cat "$wt/.patched-stamp" 2>/dev/null)" != "$stamp" ]; then
	cd "$wt/patched"
	git am --abort >/dev/null 2>&1 || true
	git checkout -q -B "$APPLIED_BRANCH" "$base"
	git config user.name >/dev/null || git config user.name "tcmu-zc harness"
	git config user.email >/dev/null || git config user.email "tcmu-zc@localhost"
	for p in "${plist[@]}"; do
		if ! git am -q --keep-cr "$top/patches/$p" >/dev/null 2>"$wt/am.log"; then
			cat "$wt/am.log" >&2
			git am --abort >/dev/null 2>&1 || true
			die "patch does not apply: patches/$p"
		fi
	done
	echo "$stamp" > "$wt/.patched-stamp"
	say "applied ${#plist[@]} patch(es) on branch $APPLIED_BRANCH"
fi
say "base:    $wt/base ($(git -C "$wt/base" log -1 --format='%h %s'))"
say "patched: $wt/patched ($(git -C "$wt/patched" log -1 --format='%h %s'))"
