#!/bin/bash
# Run apt-get against a private apt state under $APT_PRIV (default
# build/apt) that knows the source packages of Debian unstable and of the
# machine's own release, without touching
# the machine's own apt configuration.
#
#   ci/kernel/apt-private.sh source --download-only linux=7.2.8-1
#   ci/kernel/apt-private.sh apt-cache madison linux   (apt-cache instead)
#
# APT_MIRROR (default the Debian archive) and APT_SUITES (default: sid and
# the machine's release) choose what it indexes; the index is refreshed
# when they change or after 12 hours.
#
# The machine's keyring verifies the archive as usual.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
APT_PRIV=${APT_PRIV:-$top/build/apt}
APT_MIRROR=${APT_MIRROR:-http://deb.debian.org/debian}
# Debian unstable for the kernel, the machine's own release for the source
# of the packages installed on it (tcmu-runner's headers).
APT_SUITES=${APT_SUITES:-sid $(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}

mkdir -p "$APT_PRIV"/lists/partial "$APT_PRIV"/cache/archives/partial \
	 "$APT_PRIV"/etc/preferences.d "$APT_PRIV"/etc/sources.list.d
for s in $APT_SUITES; do
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $APT_MIRROR $s main"
done > "$APT_PRIV/etc/sources.list.new"
if ! cmp -s "$APT_PRIV/etc/sources.list.new" "$APT_PRIV/etc/sources.list"; then
	mv "$APT_PRIV/etc/sources.list.new" "$APT_PRIV/etc/sources.list"
	rm -f "$APT_PRIV/lists/.updated"
else
	rm -f "$APT_PRIV/etc/sources.list.new"
fi

opts=(
	-o Dir::Etc::SourceList="$APT_PRIV/etc/sources.list"
	-o Dir::Etc::SourceParts="$APT_PRIV/etc/sources.list.d"
	-o Dir::Etc::PreferencesParts="$APT_PRIV/etc/preferences.d"
	-o Dir::State::Lists="$APT_PRIV/lists"
	-o Dir::Cache="$APT_PRIV/cache"
	-o Dir::State::status=/var/lib/dpkg/status
	-o APT::Sandbox::User=root
)

stamp="$APT_PRIV/lists/.updated"
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +720)" ]; then
	echo "apt-private: updating the private source index ($APT_SUITES)" >&2
	apt-get "${opts[@]}" -q update >&2
	touch "$stamp"
fi
if [ "${1:-}" = apt-cache ]; then
	shift
	exec apt-cache "${opts[@]}" "$@"
fi
exec apt-get "${opts[@]}" "$@"
