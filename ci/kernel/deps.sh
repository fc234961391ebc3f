#!/bin/bash
# Install the Debian packages a job needs, when missing (root needed only
# when something is missing). The guest runs on the host's root filesystem,
# so guest tools (tcmu-runner, targetcli, fio, ...) are host packages too.
#
#   ci/kernel/deps.sh GROUP...
#     unit     the plugin's host unit tests (make unit)
#     plugin   the plugin against Debian's tcmu headers (make plugin)
#     kernel   kernel trees and builds, checkpatch (make tree, make kernel)
#     vm       QEMU and the storage stack in the guest (make shell)
#     check    what make check needs: all of the above, and shellcheck
#     bench    make bench: vm + plugin + kernel, and the plot
#     all      everything
set -euo pipefail

declare -A G
G[unit]="gcc make libc6-dev pkg-config liburing-dev"
# dpkg-dev: dpkg-source unpacks Debian's tcmu source for the headers
G[plugin]="${G[unit]} tcmu-runner dpkg-dev xz-utils libglib2.0-dev libkmod-dev libnl-3-dev libnl-genl-3-dev"
# checkpatch.pl: spdxcheck.py needs ply and git for python3
G[kernel]="build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils ccache git dpkg-dev
	python3-ply python3-git"
G[vm]="qemu-system-x86 qemu-utils tcmu-runner targetcli-fb python3-rtslib-fb dbus kmod
	fio sg3-utils e2fsprogs util-linux procps psmisc bc"
G[check]="${G[unit]} ${G[plugin]} ${G[kernel]} ${G[vm]} shellcheck"
G[bench]="${G[plugin]} ${G[kernel]} ${G[vm]} python3-matplotlib"
G[all]="${G[check]} ${G[bench]}"

[ $# -gt 0 ] || set -- all
pkgs=()
for g; do
	[ -n "${G[$g]:-}" ] || { echo "deps: unknown group '$g' (${!G[*]})" >&2; exit 2; }
	# shellcheck disable=SC2206
	pkgs+=(${G[$g]})
done

missing=()
for p in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install packages (run as root or install them: ${missing[*]})" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Package lists on a fresh machine may be empty or stale.
apt-get -q update >&2
apt-get -q install -y --no-install-recommends "${missing[@]}" >&2
