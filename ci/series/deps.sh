#!/bin/bash
# Install b4, when missing or older than B4_MIN (0.14: `b4 prep --check`).
#
# Debian 12 (bookworm) ships b4 0.12, which has no `b4 prep --check`.
# b4 is Architecture: all and the b4 of Debian 13 (trixie, 0.14.2) needs
# nothing newer than bookworm has (python3-dkim, -dnspython, -requests,
# -patatt, git-filter-repo), so on bookworm the trixie package is fetched
# through a private apt state (build/apt-b4; the machine's apt sources are
# not touched, the archive keyring verifies it) and installed with its
# dependencies from the machine's own suites. b4 0.16 (sid) is not used: it
# needs python3-pygit2, -liblore, -ezgb from sid, and apt would pull in
# sid's python3 and libc6 with them.
# If that fails, bookworm's b4 0.12 is installed and ci/series/series.py
# check runs checkpatch exactly as b4 prep --check would.
#
#   ci/series/deps.sh        B4_MIN=0.14 B4_SUITE=trixie APT_MIRROR=...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
B4_MIN=${B4_MIN:-0.14}
B4_SUITE=${B4_SUITE:-trixie}
APT_MIRROR=${APT_MIRROR:-http://deb.debian.org/debian}
say() { echo "series-deps: $*" >&2; }

b4ver() { b4 --version 2>/dev/null | head -n 1; }
new_enough() { local v; v=$(b4ver) && [ -n "$v" ] && dpkg --compare-versions "$v" ge "$B4_MIN"; }

new_enough && exit 0
if [ "$(id -u)" -ne 0 ]; then
	say "need root to install b4 >= $B4_MIN (have: $(b4ver || echo none))"
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

candidate() { apt-cache policy b4 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
cand=$(candidate)
if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
	apt-get -q update >&2
	cand=$(candidate)
fi
if [ -n "$cand" ] && [ "$cand" != "(none)" ] && dpkg --compare-versions "$cand" ge "$B4_MIN"; then
	say "installing b4 $cand"
	apt-get -q install -y --no-install-recommends b4 >&2
	exit 0
fi

priv=$B/apt-b4
mkdir -p "$priv"/lists/partial "$priv"/cache/archives/partial "$priv"/etc/preferences.d \
	"$priv"/etc/sources.list.d "$priv"/debs
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $APT_MIRROR $B4_SUITE main" \
	> "$priv/etc/sources.list"
opts=(
	-o Dir::Etc::SourceList="$priv/etc/sources.list"
	-o Dir::Etc::SourceParts="$priv/etc/sources.list.d"
	-o Dir::Etc::PreferencesParts="$priv/etc/preferences.d"
	-o Dir::State::Lists="$priv/lists"
	-o Dir::Cache="$priv/cache"
	-o Dir::State::status=/var/lib/dpkg/status
	-o APT::Sandbox::User=root
)
fetched=
say "the machine's b4 is ${cand:-none}; fetching b4 from Debian $B4_SUITE"
if apt-get "${opts[@]}" -q update >&2 &&
	rm -f "$priv"/debs/b4_*.deb &&
	(cd "$priv/debs" && apt-get "${opts[@]}" -q download "b4/$B4_SUITE" >&2); then
	fetched=$(ls "$priv"/debs/b4_*_all.deb 2>/dev/null | head -n 1)
fi
if [ -n "$fetched" ] && apt-get -q install -y --no-install-recommends "$fetched" >&2; then
	say "installed $(basename "$fetched") ($(b4ver))"
	exit 0
fi
say "warning: b4 from $B4_SUITE could not be installed; installing the machine's b4 ($cand)"
apt-get -q install -y --no-install-recommends b4 >&2
say "b4 $(b4ver): make check runs checkpatch as b4 prep --check would"
