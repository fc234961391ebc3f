#!/bin/bash
# `make bench`, host side: one boot of a plain kernel runs the whole matrix
# (ci/bench/guest-bench.sh: TCMU copy and zero copy, LIO ramdisk and fileio,
# ublk with and without zero copy; 4k..1M, sequential and random, iodepth 1
# and 16), then docs/performance.md and docs/performance.png are
# regenerated from the results (ci/bench/report.py).
#
#   ci/bench/bench.sh                  the patched plain kernel
#   KIMG=path/bzImage ci/bench/bench.sh    another kernel image (a development
#                                    kernel; its .config is read from its
#                                    build directory when there is one)
#
# Results: build/vmout/bench.jsonl (one JSON line per run), console log
# build/logs/bench.log. BENCH_SIZE, BENCH_RUNTIME, BENCH_RAMP, BENCH_BS,
# BENCH_QD, BENCH_BACKENDS, BENCH_REPEAT and BENCH_RANDOM reach the guest
# (ci/bench/guest-bench.sh); a matrix changed by them is marked so in the
# report. BENCH_CPUS: guest CPUs (default 2; 1 takes cross-CPU TLB
# shootdowns out). BENCH_DOCS=DIR writes the report there instead of
# docs/. V=1 also streams the guest's kernel console.
# Exit status: the guest's (ci/vm/vm-run.sh), or 1 when the report could not
# be written.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
cd "$top" || exit 1
. ci/vm/lib.sh
t0=$(date +%s)
die() { echo "bench: error: $*" >&2; exit 1; }
py=/usr/bin/python3 # Debian's, with python3-matplotlib (ci/deps.sh)
docs=${BENCH_DOCS:-$top/docs}

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)

# The kernel.
override=false
if [ -n "${KIMG:-}" ]; then
	img=$(readlink -f "$KIMG")
	[ -f "$img" ] || die "KIMG=$KIMG: no such file"
	override=true
else
	echo "bench: building the patched plain kernel (ci/kernel/build-kernel.sh patched plain)"
	img=$(ci/kernel/build-kernel.sh patched plain) || die "kernel build failed"
	img=$(readlink -f "$img")
fi
kbuild=$(vm_kbuild_of "$img")

# The ublk peer.
mkdir -p "$B/ublk"
if kublk=$(ci/bench/build-ublk.sh patched 2>"$B/ublk/why"); then
	ublk_why=
else
	kublk=
	ublk_why=$(grep -v '^$' "$B/ublk/why" | tail -n 5 | tr '\n' ' ')
	echo "bench: ublk rows will be missing: $ublk_why" >&2
fi

# Pass the matrix tunables on.
envs=(-e "BENCH_KUBLK=$kublk")
reduced=
for v in BENCH_SIZE BENCH_RUNTIME BENCH_RAMP BENCH_BS BENCH_QD BENCH_BACKENDS BENCH_REPEAT \
	BENCH_RANDOM BENCH_CPUS; do
	[ -n "${!v:-}" ] || continue
	envs+=(-e "$v=${!v}")
	reduced+="${reduced:+, }$v=${!v}"
done

mkdir -p "$B/vmout" "$B/logs"
res=$B/vmout/bench.jsonl
rm -f "$res"
echo "bench: booting $img (one boot for the whole matrix; a progress line per run)"
tb=$(date +%s)
# The guest's stdout carries the progress lines (one per run).
ci/vm/vm-run.sh -k "$img" -m 3G -c "${BENCH_CPUS:-2}" -t 3600 -l "$B/logs/bench.log" \
	$([ "${V:-0}" = 0 ] || echo -v) "${envs[@]}" -- ci/bench/guest-bench.sh "$res"
rc=$?
guest_s=$(( $(date +%s) - tb ))
status_text=$(vm_status_text "$rc")
[ -s "$res" ] || die "no results from the guest (status $rc: $status_text; console: build/logs/bench.log)"

# What the report says about the setup.
setup=$B/vmout/bench-setup.json
src=$(readlink -f "$kbuild/source" 2>/dev/null || true)
[ -n "$src" ] || { [ "$override" = true ] || src=$B/worktree/patched; }
head= series=
if [ -n "$src" ] && git -C "$src" rev-parse HEAD >/dev/null 2>&1; then
	head=$(git -C "$src" log -1 --format='%h %s' HEAD)
	base=$(git -C "$src" rev-parse --verify -q base 2>/dev/null || git -C "$src" rev-parse --verify -q refs/tcmu-zc/base 2>/dev/null || true)
	[ -z "$base" ] || series=$(git -C "$src" log --reverse --format='%h %s' "$base..HEAD")
fi
frags= # as ci/kernel/build-kernel.sh merges them; unknown for a KIMG
if [ "$override" = false ]; then
	frags="kernel-config/guest.config kernel-config/target.config"
	[ "$(git -C "$B/worktree/base" rev-parse "HEAD^{tree}" 2>/dev/null)" = \
		"$(git -C "$B/worktree/patched" rev-parse "HEAD^{tree}" 2>/dev/null)" ] ||
		frags+=" kernel-config/series.config"
fi
excerpt= cfgnote=
if [ -f "$kbuild/.config" ]; then
	excerpt=$(grep -E '^(# )?CONFIG_(TCM_USER2|TARGET_CORE|LOOPBACK_TARGET|BLK_DEV_UBLK|IO_URING|PREEMPT|PREEMPT_LAZY|PREEMPT_VOLUNTARY|PREEMPT_NONE|HZ|TRANSPARENT_HUGEPAGE|KASAN|PROVE_LOCKING|DEBUG_VM|NR_CPUS|SMP|INOTIFY_USER)[= ]' "$kbuild/.config" |
		sed 's/^# \(CONFIG_[A-Z0-9_]*\) is not set/\1=n/')
	cfgnote="full .config: \`${kbuild#"$top"/}/.config\`"
else
	cfgnote="no .config next to the image ($kbuild): options unknown"
fi
SETUP_IMG=$img SETUP_OVERRIDE=$override SETUP_SRC=$src SETUP_HEAD=$head SETUP_SERIES=$series \
SETUP_FRAGS=$frags SETUP_EXCERPT=$excerpt SETUP_CFGNOTE=$cfgnote SETUP_UBLK_WHY=$ublk_why \
SETUP_KUBLK=$kublk SETUP_RC=$rc SETUP_RC_TEXT=$status_text SETUP_REDUCED=$reduced \
SETUP_LOAD_START=$load_start SETUP_LOAD_END="$(load)" SETUP_GUEST_S=$guest_s \
SETUP_ELAPSED=$(( $(date +%s) - t0 )) SETUP_TOP=$top \
$py - "$setup" <<'EOF' || die "cannot write $setup"
import json, os, subprocess, sys, time
e = os.environ
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
lines = lambda s: [l for l in s.split("\n") if l]
cpu = ""
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip()
        break
el = int(e["SETUP_ELAPSED"])
top = e["SETUP_TOP"] + "/"
rel = lambda p: p[len(top):] if p.startswith(top) else p
json.dump({
    "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    "status": int(e["SETUP_RC"]), "status_text": e["SETUP_RC_TEXT"],
    "reduced": e["SETUP_REDUCED"],
    "elapsed": f"{el // 60} min {el % 60} s", "guest_seconds": int(e["SETUP_GUEST_S"]),
    "kernel": {"image": rel(e["SETUP_IMG"]), "override": e["SETUP_OVERRIDE"] == "true",
               "source": rel(e["SETUP_SRC"]), "head": e["SETUP_HEAD"],
               "series": lines(e["SETUP_SERIES"]), "fragments": e["SETUP_FRAGS"].split(),
               "config_excerpt": lines(e["SETUP_EXCERPT"]), "config_note": e["SETUP_CFGNOTE"]},
    "qemu": {"version": (lines(sh("qemu-system-x86_64", "--version")) or ["?"])[0]},
    "host": {"cpu": cpu, "cpus": os.cpu_count(),
             "load_start": e["SETUP_LOAD_START"], "load_end": e["SETUP_LOAD_END"]},
    "tcmu_runner": sh("dpkg-query", "-W", "-f=${Version}", "tcmu-runner"),
    "ublk": {"built": bool(e["SETUP_KUBLK"]), "why": e["SETUP_UBLK_WHY"],
             "source": "build/worktree/patched/tools/testing/selftests/ublk",
             "liburing": sh("dpkg-query", "-W", "-f=${Version}", "liburing-dev")},
}, open(sys.argv[1], "w"), indent=1)
EOF

mkdir -p "$docs"
$py ci/bench/report.py --results "$res" --setup "$setup" \
	--md "$docs/performance.md" --png "$docs/performance.png" || die "report failed"
echo "bench: wrote ${docs#"$top"/}/performance.md and performance.png (guest status $rc: $status_text)"
echo "bench: finished in $(( $(date +%s) - t0 ))s"
exit "$rc"
