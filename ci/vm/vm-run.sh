#!/bin/bash
# Boot a kernel under QEMU (TCG) on the host's root filesystem, run one
# command in it and return that command's exit status.
#
# usage: ci/vm-run.sh -k BZIMAGE [options] [--] COMMAND [ARGS...]
#   -k FILE   kernel image (bzImage); its build directory provides
#             modules.builtin for libkmod in the guest
#   -m SIZE   guest memory (default: 2G)
#   -c N      guest CPUs (default: 2)
#   -t SEC    hang limit for the whole boot (default: 2400)
#   -l FILE   console log (default: build/logs/vm-<time>.log)
#   -o DIR    host directory shared read-write at the same path (default: build/vmout)
#   -e V=X    set V=X for the command (repeatable)
#   -a ARGS   extra kernel command line arguments
#   -s        interactive: console on this terminal, a shell instead of COMMAND
#   -h        this help
#
# The host root is shared read-only over 9p; the guest puts tmpfs on what it
# must write (ci/guest-init.sh). COMMAND runs as root in the current
# directory; its exit status travels back on a virtio serial port of its own
# (zc.status), never scraped from the console.
#
# Exit status: COMMAND's status (0-252), or
#   125  usage or setup error on the host
#   253  COMMAND passed but the kernel logged an oops, BUG, WARNING, KASAN or
#        lockdep report (see the console log)
#   254  hang: the guest did not finish within -t seconds
#   255  the guest died without a status (kernel panic, init crash)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
B=${BUILD:-$top/build}

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }
die() { echo "vm-run: error: $*" >&2; exit 125; }

kernel= mem=2G cpus=2 tmo=2400 log= out=$B/vmout interactive=0 extra=
envs=()
while getopts "k:m:c:t:l:o:e:a:sh" o; do
	case $o in
	k) kernel=$OPTARG ;;
	m) mem=$OPTARG ;;
	c) cpus=$OPTARG ;;
	t) tmo=$OPTARG ;;
	l) log=$OPTARG ;;
	o) out=$OPTARG ;;
	e) [[ $OPTARG == [A-Za-z_]*=* ]] || die "-e wants VAR=VALUE, got '$OPTARG'"
	   envs+=("$OPTARG") ;;
	a) extra+=" $OPTARG" ;;
	s) interactive=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 125 ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$kernel" ] || { usage >&2; die "no kernel given (-k)"; }
[ -f "$kernel" ] || die "kernel image $kernel not found"
[ $interactive -eq 1 ] || [ $# -gt 0 ] || die "no command given"
[[ $tmo =~ ^[0-9]+$ ]] || die "-t wants seconds, got '$tmo'"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed (make deps)"

kernel=$(readlink -f "$kernel")
kbuild=$(dirname "$(dirname "$(dirname "$(dirname "$kernel")")")")
[ -f "$kbuild/modules.builtin" ] || kbuild=
mkdir -p "$out" "$B/logs" || die "cannot create $out"
out=$(readlink -f "$out")
[ -n "$log" ] || log=$B/logs/vm-$(date +%Y%m%d-%H%M%S)-$$.log
mkdir -p "$(dirname "$log")"
: > "$log"

status=$(mktemp "$B/logs/.status.XXXXXX")
trap 'rm -f "$status"' EXIT

# The guest command: a bash fragment, base64 on the kernel command line.
q() { printf '%q ' "$@"; }
script="cd $(q "$PWD")|| exit 125; "
for e in "${envs[@]}"; do script+="export $(q "$e"); "; done
if [ $interactive -eq 1 ]; then
	script+="exec bash -i"
else
	script+="exec $(q "$@")"
fi
b64=$(printf '%s' "$script" | base64 -w0)
[ ${#b64} -lt 1400 ] || die "command too long for the kernel command line (${#b64} bytes encoded); put it in a script"

# pci=noacpi: the PIIX _PRT AML loop times out under TCG with KASAN (30 s per
# virtio device, AE_AML_LOOP_TIMEOUT); the PIRQ table routes IRQs as well.
append="console=ttyS0 loglevel=5 panic=-1 nokaslr pci=noacpi"
append+=" root=hostroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro"
append+=" init=$here/guest-init.sh zc_cmd=$b64 zc_out=$out zc_top=$top"
[ -z "$kbuild" ] || append+=" zc_kbuild=$kbuild"
[ $interactive -eq 0 ] || append+=" zc_interactive=1"
append+="$extra"

qemu=(qemu-system-x86_64 -machine pc -accel tcg,thread=multi -cpu max
	-smp "$cpus" -m "$mem" -no-reboot -display none -vga none -nodefaults
	-kernel "$kernel" -append "$append"
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=root,mount_tag=hostroot
	-fsdev local,id=out,path="$out",security_model=none,multidevs=remap
	-device virtio-9p-pci,fsdev=out,mount_tag=zcout
	-device virtio-serial-pci
	-chardev file,id=zcstatus,path="$status"
	-device virtserialport,chardev=zcstatus,name=zc.status)

start=$(date +%s)
if [ $interactive -eq 1 ]; then
	qemu+=(-chardev stdio,id=con,mux=on,signal=off,logfile="$log" -serial chardev:con -mon chardev=con)
	"${qemu[@]}"
	rc=$?
else
	qemu+=(-chardev stdio,id=con,signal=off,logfile="$log" -serial chardev:con)
	timeout -k 10 "$tmo" "${qemu[@]}" </dev/null
	rc=$?
fi
secs=$(( $(date +%s) - start ))

# Kernel reports that fail a run (shared with tests/run-tests.sh).
splat=$(cat "$here/splat.ere")
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "vm-run: guest hung: no exit within ${tmo}s (console: $log)" >&2
	exit 254
fi
st=$(tr -dc '0-9\n' < "$status" | head -n 1)
if [ -z "$st" ]; then
	echo "vm-run: guest died without a status after ${secs}s (console: $log)" >&2
	grep -aE "$splat" "$log" | head -n 5 >&2
	exit 255
fi
if [ "$st" -eq 0 ] && grep -aqE "$splat" "$log"; then
	echo "vm-run: the command passed but the kernel reported problems (console: $log):" >&2
	grep -aE "$splat" "$log" | head -n 10 >&2
	exit 253
fi
echo "vm-run: guest exited with status $st after ${secs}s (console: $log)" >&2
exit "$st"
