#!/bin/bash
# PID 1 of the test guest (see ci/vm/vm-run.sh). Mounts the writable pieces
# on top of the read-only host root, runs the command from the kernel
# command line with its stdout and stderr on the virtio ports vmrun.stdout
# and vmrun.stderr, writes its exit status to vmrun.status, powers off.
# The kernel console (ttyS0) carries only the kernel's messages and this
# script's own.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH HOME=/root TERM=${TERM:-linux} LANG=C.UTF-8

arg() { local a; for a in $(cat /proc/cmdline); do case $a in "$1"=*) echo "${a#*=}";; esac; done; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t configfs configfs /sys/kernel/config
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

# Writable scratch: everything a daemon or a test writes. The project (and
# the kernel build) may live under one of these directories (a clone in
# /tmp, say): such paths are bind-mounted aside first and moved back on top
# of the tmpfs, so they keep their host paths.
mount -t tmpfs -o mode=0755 tmpfs /run
keep=()
for p in $(arg vmrun.top) $(arg vmrun.kbuild); do
	[ -d "$p" ] && keep+=("$p")
done
for d in /tmp /var/tmp /var/log /var/lib /var/cache /root /mnt; do
	moved=()
	for p in "${keep[@]}"; do
		case $p in "$d"/*)
			k=/run/keep/${#moved[@]}
			mkdir -p "$k"
			mount --bind "$p" "$k"
			moved+=("$p")
			;;
		esac
	done
	mount -t tmpfs -o mode=0755 tmpfs "$d"
	i=0
	for p in "${moved[@]}"; do
		mkdir -p "$p"
		mount --move "/run/keep/$i" "$p"
		i=$((i + 1))
	done
done
chmod 1777 /tmp /var/tmp
mkdir -p /run/lock /var/lib/dbus /var/log/tcmu
# /etc: overlay so targetcli, dbus and tcmu-runner can write their bits.
mkdir -p /run/ov/etc/upper /run/ov/etc/work
mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/ov/etc/upper,workdir=/run/ov/etc/work /etc
hostname guest
ip link set lo up 2>/dev/null

# libkmod (tcmu-runner, targetcli) looks for target_core_user in
# /lib/modules/$(uname -r); give it the built-in list of this kernel, in an
# overlay on /usr/lib (the host may have no /usr/lib/modules at all).
kbuild=$(arg vmrun.kbuild)
mkdir -p /run/ov/lib/upper /run/ov/lib/work
mount -t overlay overlay -o lowerdir=/usr/lib,upperdir=/run/ov/lib/upper,workdir=/run/ov/lib/work /usr/lib
rm -rf /usr/lib/modules
mkdir -p "/usr/lib/modules/$(uname -r)"
if [ -n "$kbuild" ] && [ -f "$kbuild/modules.builtin" ]; then
	cp "$kbuild"/modules.builtin* "/usr/lib/modules/$(uname -r)/"
	depmod -a 2>/dev/null
fi

out=$(arg vmrun.out)
if [ -n "$out" ]; then
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none vmrun_out "$out" ||
		echo "guest-init: cannot mount the output directory $out" >&2
fi

# The virtio ports by name (vmrun.status, vmrun.stdout, vmrun.stderr).
declare -A port
for n in /sys/class/virtio-ports/*/name; do
	p=$(cat "$n" 2>/dev/null)
	[[ $p == vmrun.* ]] && port[${p#vmrun.}]=/dev/$(basename "$(dirname "$n")")
done

cmd=$(arg vmrun.cmd | base64 -d)
if [ "$(arg vmrun.interactive)" = 1 ]; then
	setsid -c bash -c "$cmd" </dev/ttyS0 >/dev/ttyS0 2>&1
	rc=$?
else
	bash -c "$cmd" </dev/null >"${port[stdout]:-/dev/console}" 2>"${port[stderr]:-/dev/console}"
	rc=$?
fi
# 253-255 belong to vm-run.sh.
[ $rc -le 252 ] || { echo "guest-init: command exited $rc, reported as 252" >&2; rc=252; }
sync
if [ -n "${port[status]:-}" ]; then
	echo "$rc" > "${port[status]}"
else
	echo "guest-init: no vmrun.status port; status $rc lost" >&2
fi
umount "$out" 2>/dev/null
echo o > /proc/sysrq-trigger 2>/dev/null
poweroff -f
