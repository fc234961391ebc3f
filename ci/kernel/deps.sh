#!/bin/bash
# Install what the build, the guest and the tests need, when missing.
# The guest runs on the host's root filesystem, so guest tools (tcmu-runner,
# targetcli, fio, ...) are host packages too.
set -euo pipefail

PKGS=(
	# kernel build
	build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils
	ccache sparse git dpkg-dev
	# checkpatch.pl (spdxcheck.py needs ply and git for python3)
	python3-ply python3-git
	# VM
	qemu-system-x86 qemu-utils
	# the stack inside the guest
	tcmu-runner targetcli-fb python3-rtslib-fb dbus kmod
	fio sg3-utils e2fsprogs util-linux procps psmisc
	# plugin build
	pkg-config libglib2.0-dev libkmod-dev libnl-3-dev libnl-genl-3-dev
	liburing-dev
	# make bench: the plot (ublk's kublk uses liburing-dev, above)
	python3-matplotlib
)

missing=()
for p in "${PKGS[@]}"; do
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
