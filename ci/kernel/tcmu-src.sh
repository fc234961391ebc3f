#!/bin/bash
# Fetch and unpack Debian's tcmu source package matching the installed
# tcmu-runner (for its handler headers) into build/src/tcmu/tree.
# Prints the tree's path. Nothing of it is committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dest=${BUILD:-$top/build}/src/tcmu
die() { echo "tcmu-src: error: $*" >&2; exit 1; }

ver=$(dpkg-query -W -f='${source:Version}' tcmu-runner 2>/dev/null) ||
	die "tcmu-runner is not installed (make deps)"
if [ "$(cat "$dest/tree/.version" 2>/dev/null)" != "$ver" ]; then
	command -v dpkg-source >/dev/null || die "dpkg-source missing (apt-get install dpkg-dev)"
	mkdir -p "$dest"
	rm -rf "$dest/tree"
	(cd "$dest" && "$here/apt-private.sh" source --download-only "tcmu=$ver" >&2) ||
		die "cannot download Debian source package tcmu=$ver"
	dpkg-source -x "$dest/tcmu_$ver.dsc" "$dest/tree" >&2 ||
		die "cannot unpack tcmu_$ver.dsc"
	echo "$ver" > "$dest/tree/.version"
fi
echo "$dest/tree"
