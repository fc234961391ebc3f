#!/bin/bash
# Boot a kernel under QEMU (TCG) on the host's root filesystem, run one
# command in it and return that command's exit status.
#
# usage: ci/vm/vm-run.sh -k BZIMAGE [options] [--] COMMAND [ARGS...]
#   -k FILE   kernel image (bzImage); its build directory provides
#             modules.builtin for libkmod in the guest
#   -m SIZE   guest memory (default: 2G)
#   -c N      guest CPUs (default: 2)
#   -t SEC    time limit for the whole boot (default: 2400)
#   -l FILE   console log (default: build/logs/vm-<time>.log)
#   -o DIR    host directory shared read-write at the same path (default: build/vmout)
#   -e V=X    set V=X for the command (repeatable)
#   -a ARGS   extra kernel command line arguments
#   -v        also stream the kernel console to stdout (make V=1)
#   -s        interactive: console on this terminal, a shell instead of COMMAND
#   -h        this help
#
# The host root is shared read-only over 9p; the guest puts tmpfs on what it
# must write (ci/vm/guest-init.sh). COMMAND runs as root in the current
# directory. As in virtme-ng, each stream has a virtio serial port of its
# own: COMMAND's stdout and stderr (streamed here to stdout and stderr as
# they come), its exit status (vmrun.status), and the kernel console
# (ttyS0, kept in the -l file). Nothing is scraped from the console.
#
# Exit status: COMMAND's status (0-252), or
#   125  usage or setup error on the host
#   253  COMMAND passed but the kernel logged an oops, BUG, WARNING, KASAN or
#        lockdep report (see the console log)
#   254  hang: the guest did not finish within -t seconds
#   255  the guest died without a status (kernel panic, init crash)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
. "$here/lib.sh"

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }
die() { echo "vm-run: error: $*" >&2; exit 125; }

kernel= mem=2G cpus=2 tmo=2400 log= out=$B/vmout interactive=0 extra= verbose=0
envs=()
while getopts "k:m:c:t:l:o:e:a:vsh" o; do
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
	v) verbose=1 ;;
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
kbuild=$(vm_kbuild_of "$kernel")
[ -n "$kbuild" ] && [ -f "$kbuild/modules.builtin" ] || kbuild=
mkdir -p "$out" "$B/logs" || die "cannot create $out"
out=$(readlink -f "$out")
[ -n "$log" ] || log=$B/logs/vm-$(date +%Y%m%d-%H%M%S)-$$.log
mkdir -p "$(dirname "$log")"
: > "$log"

ports=$(mktemp -d "$B/logs/.vmrun.XXXXXX")
trap 'rm -rf "$ports"' EXIT
: > "$ports/status"; : > "$ports/stdout"; : > "$ports/stderr"

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
append+=" init=$here/guest-init.sh vmrun.cmd=$b64 vmrun.out=$out vmrun.top=$top"
[ -z "$kbuild" ] || append+=" vmrun.kbuild=$kbuild"
[ $interactive -eq 0 ] || append+=" vmrun.interactive=1"
append+="$extra"

qemu=(qemu-system-x86_64 -machine pc -accel tcg,thread=multi -cpu max
	-smp "$cpus" -m "$mem" -no-reboot -display none -vga none -nodefaults
	-kernel "$kernel" -append "$append"
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=root,mount_tag=hostroot
	-fsdev local,id=out,path="$out",security_model=none,multidevs=remap
	-device virtio-9p-pci,fsdev=out,mount_tag=vmrun_out
	-device virtio-serial-pci)
for p in status stdout stderr; do
	qemu+=(-chardev "file,id=vmrun_$p,path=$ports/$p"
		-device "virtserialport,chardev=vmrun_$p,name=vmrun.$p")
done

start=$(date +%s)
if [ $interactive -eq 1 ]; then
	qemu+=(-chardev stdio,id=con,mux=on,signal=off,logfile="$log" -serial chardev:con -mon chardev=con)
	"${qemu[@]}"
	rc=$?
else
	qemu+=(-chardev "file,id=con,path=$log" -serial chardev:con)
	timeout -k 10 "$tmo" "${qemu[@]}" </dev/null &
	qpid=$!
	# Stream the command's output (and with -v the console) while it runs;
	# each tail ends once QEMU has.
	tails=()
	tail -q -n +1 -s 0.2 --pid=$qpid -F "$ports/stdout" 2>/dev/null & tails+=($!)
	tail -q -n +1 -s 0.2 --pid=$qpid -F "$ports/stderr" >&2 2>/dev/null & tails+=($!)
	if [ $verbose -eq 1 ]; then
		tail -q -n +1 -s 0.2 --pid=$qpid -F "$log" 2>/dev/null & tails+=($!)
	fi
	wait $qpid
	rc=$?
	wait "${tails[@]}"
fi
secs=$(( $(date +%s) - start ))

# Kernel reports that fail a run (shared with ci/tests/run-tests.sh).
splat=$(cat "$here/splat.ere")
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "vm-run: $(vm_status_text 254): no exit within ${tmo}s (console: $log)" >&2
	exit 254
fi
st=$(tr -dc '0-9\n' < "$ports/status" | head -n 1)
if [ -z "$st" ]; then
	echo "vm-run: $(vm_status_text 255) after ${secs}s (console: $log)" >&2
	grep -aE "$splat" "$log" | head -n 5 >&2
	exit 255
fi
if [ "$st" -eq 0 ] && grep -aqE "$splat" "$log"; then
	echo "vm-run: $(vm_status_text 253) (console: $log):" >&2
	grep -aE "$splat" "$log" | head -n 10 >&2
	exit 253
fi
echo "vm-run: guest exited with status $st after ${secs}s (console: $log)" >&2
exit "$st"
