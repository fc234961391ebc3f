#!/bin/bash
# Export a development branch as the series: patches/*.patch and `series`.
# The branch is kept the way b4 keeps it: an empty first commit carries the
# cover letter (subject and body), the patches follow.
#
#   ci/export-series.sh [BRANCH]     (default: zc-dev in build/linux.git)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
repo=${KERNEL_SRC:-${BUILD:-$top/build}/linux.git}
branch=${1:-zc-dev}
die() { echo "export-series: error: $*" >&2; exit 1; }

base=$(git -C "$repo" rev-parse -q --verify refs/tags/base 2>/dev/null ||
	git -C "$repo" rev-parse -q --verify refs/tcmu-zc/base) || die "no base in $repo"
first=$(git -C "$repo" rev-list --reverse "$base..$branch" | head -n 1)
[ -n "$first" ] || die "$branch has no commits on top of the base"
[ "$(git -C "$repo" rev-parse "$first^{tree}")" = "$(git -C "$repo" rev-parse "$base^{tree}")" ] ||
	die "the first commit of $branch must be the empty cover-letter commit"
n=$(git -C "$repo" rev-list --count "$first..$branch")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$repo" format-patch -q --cover-letter --base="$base" --zero-commit \
	--subject-prefix="PATCH${VERSION:+ v$VERSION}" -o "$tmp" "$first..$branch"
cover=$(ls "$tmp"/0000-*.patch)
subject=$(git -C "$repo" log -1 --format=%s "$first")
git -C "$repo" log -1 --format=%b "$first" > "$tmp/blurb"
python3 - "$cover" "$subject" "$tmp/blurb" <<'PY'
import sys
path, subject, blurb = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
s = open(path).read()
s = s.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", blurb)
open(path, "w").write(s)
PY
# The cover commit sits between base and the range: drop its empty patch id.
sed -i '/^prerequisite-patch-id: 0\{40\}$/d' "$tmp"/*.patch
rm -f "$top"/patches/*.patch
mv "$cover" "$top/patches/0000-cover-letter.patch"
cp "$tmp"/[0-9][0-9][0-9][0-9]-*.patch "$top/patches/"
{
	echo "# quilt order; applied with git am by ci/kernel-tree.sh"
	(cd "$top/patches" && ls [0-9][0-9][0-9][0-9]-*.patch | grep -v '^0000-cover-letter')
} > "$top/series"
echo "export-series: $n patch(es) from $branch to patches/ (base $(git -C "$repo" rev-parse --short "$base"))"
