#!/usr/bin/env python3
"""Write docs/performance.md and docs/performance.png from a `make bench` run.

  report.py --results build/vmout/bench.jsonl --md docs/performance.md \\
      --png docs/performance.png [--setup setup.json]
  report.py --results build/vmout/demo.jsonl --table     (make demo: text tables)

RESULTS is what ci/bench/guest-bench.sh wrote (a meta line, then one line
per run). SETUP (written by ci/bench/bench.sh) describes the host side:
kernel image, its source and config, the ublk build, QEMU, host load,
elapsed time.
"""
import argparse
import datetime
import json
import os
import re
import sys

from bench_run import human

BS_ORDER = ["4k", "64k", "256k", "1M"]
BACKENDS = ["tcmu-copy", "tcmu-zc", "tcmu-zc-dflt", "ramdisk", "fileio", "ublk", "ublk-zc"]
DESCR = {
    "tcmu-copy": "TCMU, user:zcfile, zero copy off (attrib/zero_copy=0): the stock copy path",
    "tcmu-zc": "the same TCMU device, zero copy on for READ and WRITE at every size "
               "(zero_copy=1, zero_copy_data_in=1, zero_copy_min_size=4096)",
    "tcmu-zc-dflt": "the same TCMU device, zero copy on with the kernel's default "
                    "zero_copy_min_size (run only at block sizes below that default; "
                    "above it, it is the tcmu-zc configuration)",
    "ramdisk": "LIO's in-kernel rd_mcp ramdisk: the ceiling, no userspace hop",
    "fileio": "LIO's in-kernel fileio on a tmpfs file (write_back=false)",
    "ublk": "ublk, the kernel's selftest server kublk, loop target on a tmpfs file, no zero copy",
    "ublk-zc": "the same with kublk -z (UBLK_F_SUPPORT_ZERO_COPY: the request's pages are "
               "registered as an io_uring fixed buffer, no copy in the ublk driver)",
}
NOT_RUN = "not available on this kernel"


def bs_bytes(bs):
    mult = {"k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30, "G": 1 << 30}
    return int(bs[:-1]) * mult[bs[-1]] if bs[-1] in mult else int(bs)


def load(path):
    meta, runs = None, []
    for line in open(path):
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("type") == "meta":
            meta = r
        elif r.get("type") == "run":
            runs.append(r)
    if meta is None:
        sys.exit(f"bench_report: no meta line in {path}: the guest did not get far")
    return meta, runs


class Results:
    def __init__(self, meta, runs):
        self.meta = meta
        self.runs = runs
        # Several passes (BENCH_REPEAT): each run's median by throughput
        # (the lower one of an even count), with all of that run's numbers.
        groups = {}
        for r in runs:
            if "error" not in r:
                groups.setdefault((r["backend"], r["rw"], r["bs"], r["qd"]), []).append(r)
        self.by, self.spread = {}, {}
        for k, rs in groups.items():
            rs.sort(key=lambda r: r["mib_s"])
            self.by[k] = rs[(len(rs) - 1) // 2]
            if len(rs) > 1 and rs[0]["mib_s"]:
                self.spread[k] = rs[-1]["mib_s"] / rs[0]["mib_s"]
        self.backends = [b for b in BACKENDS if any(k[0] == b for k in self.by)]
        self.qds = sorted({r["qd"] for r in runs})
        self.bss = sorted({r["bs"] for r in runs if not r["rw"].startswith("rand")}, key=bs_bytes)
        self.zc_min = meta["info"].get("tcmu_zero_copy_min_size_default")
        self.random = any(r["rw"].startswith("rand") for r in runs)

    def get(self, b, rw, bs, qd):
        r = self.by.get((b, rw, bs, qd))
        if r is None and b == "tcmu-zc-dflt" and self.zc_min and bs_bytes(bs) >= int(self.zc_min):
            r = self.by.get(("tcmu-zc", rw, bs, qd))  # the same configuration
        return r

    def mib(self, b, rw, bs, qd):
        r = self.get(b, rw, bs, qd)
        return r["mib_s"] if r else None

    def ratio(self, a, b, rw, bs, qd):
        x, y = self.mib(a, rw, bs, qd), self.mib(b, rw, bs, qd)
        return x / y if x and y else None


def fmt_ratio(x):
    return f"{x:.2f}x" if x is not None else "-"


def fmt(x, f="{:.1f}"):
    return f.format(x) if x is not None else "-"


def crossover(R, rw, qd):
    """Smallest block size from which tcmu-zc >= tcmu-copy at it and every
    larger size; None if zero copy never pays, "" if not measured."""
    pts = [(bs, R.ratio("tcmu-zc", "tcmu-copy", rw, bs, qd)) for bs in R.bss]
    pts = [(bs, r) for bs, r in pts if r is not None]
    if not pts:
        return ""
    best = None
    for bs, r in reversed(pts):
        if r >= 1.0:
            best = bs
        else:
            break
    return best


def summary(R, out):
    have_zc = "tcmu-zc" in R.backends
    na = R.meta.get("not_available", {})
    big = "1M" if "1M" in R.bss else (R.bss[-1] if R.bss else None)
    qd_hi = max(R.qds) if R.qds else None
    out.append("## Summary\n")
    if not have_zc:
        why = na.get("tcmu-zc", "tcmu-zc was not in the matrix")
        out.append(f"**Zero copy was not measured**: {why}. The comparisons with zero "
                   "copy (zero copy / copy at 64k and 1M, zero copy / ramdisk, TCMU "
                   "zero copy / ublk zero copy, 4k random zero copy / copy, the crossover) "
                   "need a kernel that has it: `make bench KIMG=path/to/bzImage`.\n")
    rows = []

    def row(what, vals, target=None, check=None):
        rows.append((what, vals, target, check))

    for rw in ("read", "write"):
        for bs in ("64k", "1M"):
            for qd in R.qds:
                v = R.ratio("tcmu-zc", "tcmu-copy", rw, bs, qd)
                tgt = ">= 1.8x" if bs == "1M" else ""
                row(f"zero copy / copy, seq {rw} {bs} qd{qd}", v, tgt,
                    (v >= 1.8) if (v is not None and bs == "1M") else None)
    if big:
        for rw in ("read", "write"):
            for qd in R.qds:
                v = R.ratio("tcmu-zc", "ramdisk", rw, big, qd)
                row(f"zero copy / ramdisk (ceiling), seq {rw} {big} qd{qd}", v, ">= 0.85x",
                    v >= 0.85 if v is not None else None)
        for rw in ("read", "write"):
            for qd in R.qds:
                v = R.ratio("tcmu-copy", "ramdisk", rw, big, qd)
                row(f"copy / ramdisk, seq {rw} {big} qd{qd}", v)
        for rw in ("read", "write"):
            for qd in R.qds:
                v = R.ratio("tcmu-zc", "ublk-zc", rw, big, qd)
                row(f"TCMU zero copy / ublk zero copy, seq {rw} {big} qd{qd}", v, ">= 1.0x",
                    v >= 1.0 if v is not None else None)
        for rw in ("read", "write"):
            for qd in R.qds:
                row(f"TCMU copy / ublk (no zero copy), seq {rw} {big} qd{qd}",
                    R.ratio("tcmu-copy", "ublk", rw, big, qd))
    # 4k random with what a user gets by default (the default threshold).
    zc4 = "tcmu-zc-dflt" if ("tcmu-zc-dflt" in R.backends or R.zc_min) else "tcmu-zc"
    for rw in ("randread", "randwrite"):
        for qd in R.qds:
            v = R.ratio(zc4, "tcmu-copy", rw, "4k", qd)
            row(f"zero copy ({zc4}) / copy, {rw} 4k qd{qd}", v, ">= 0.98x",
                v >= 0.98 if v is not None else None)
    out.append("| comparison (throughput ratio) | measured | target | met |")
    out.append("|---|---:|---|---|")
    for what, v, tgt, chk in rows:
        if v is None and "zero copy" in what and not have_zc:
            continue  # said once above
        val = fmt_ratio(v)
        met = "" if chk is None else ("yes" if chk else "**no**")
        out.append(f"| {what} | {val} | {tgt or ''} | {met} |")
    out.append("")
    # Crossover.
    out.append("**Crossover** (smallest block size from which zero copy (at every size, "
               "zero_copy_min_size=4096) is at least as fast as the copy path, at it and "
               "every larger size measured):\n")
    worst = 0
    if not have_zc:
        out.append(f"- not measured: {na.get('tcmu-zc', NOT_RUN)}\n")
        return
    for rw in ("read", "write"):
        for qd in R.qds:
            c = crossover(R, rw, qd)
            if c == "":
                txt = "not measured (" + (NOT_RUN if not have_zc else "no data") + ")"
            elif c is None:
                txt = "zero copy is slower at every size measured"
                worst = max(worst, 1 << 62)
            else:
                txt = f"{c}" + (" (pays at every size measured)" if c == R.bss[0] else
                                f" (below {c} zero copy does not pay)")
                worst = max(worst, bs_bytes(c))
            ratios = ", ".join(f"{bs} {fmt_ratio(R.ratio('tcmu-zc', 'tcmu-copy', rw, bs, qd))}"
                               for bs in R.bss)
            out.append(f"- seq {rw} qd{qd}: {txt}; zc/copy by size: {ratios}")
    if have_zc and 0 < worst < (1 << 62):
        out.append(f"\nAcross all of these, zero copy pays from **{human(worst)}** "
                   f"(the kernel's default zero_copy_min_size here: "
                   f"{human(int(R.zc_min)) if R.zc_min else 'unknown'}).")
    out.append("")


def throughput_table(R, out):
    cols = [b for b in BACKENDS if b in R.backends or b in R.meta.get("not_available", {})]
    out.append("## Throughput, MiB/s\n")
    rep = R.meta.get("repeat", 1)
    out.append(("Each cell is one fio run" if rep == 1 else
                f"Each cell is the median of {rep} passes (max/min spread in Every run)")
               + "; `n/a`: the backend is not available on this kernel (see Setup); "
               "`-`: not run; `= tcmu-zc`: at or above the default zero_copy_min_size, "
               "the tcmu-zc configuration.\n")
    out.append("| job | " + " | ".join(cols) + " | zc/copy |")
    out.append("|---|" + "---:|" * (len(cols) + 1))
    jobs = []
    for qd in R.qds:
        for rw in ("read", "write"):
            for bs in R.bss:
                jobs.append((rw, bs, qd))
        if R.random:
            for rw in ("randread", "randwrite"):
                jobs.append((rw, "4k", qd))
    for rw, bs, qd in jobs:
        cells = []
        for b in cols:
            if b not in R.backends:
                cells.append("n/a")
            elif b == "tcmu-zc-dflt" and (b, rw, bs, qd) not in R.by and R.get(b, rw, bs, qd):
                cells.append("= tcmu-zc")  # at or above the default threshold
            else:
                cells.append(fmt(R.mib(b, rw, bs, qd)))
        name = f"seq {rw} {bs} qd{qd}" if not rw.startswith("rand") else f"{rw} {bs} qd{qd}"
        out.append(f"| {name} | " + " | ".join(cells) + " | "
                   + fmt_ratio(R.ratio("tcmu-zc", "tcmu-copy", rw, bs, qd)) + " |")
    out.append("")


def full_table(R, out):
    out.append("## Every run\n")
    out.append("MiB/s and IOPS from fio (ramp excluded); CPU-s/GiB: busy guest CPU "
               "seconds (both vCPUs, everything: fio, the daemon, the kernel) per GiB "
               "the disk moved, from /proc/stat and the disk's stat over the whole fio "
               "run; CPU %: of both vCPUs. TCMU columns: deltas of TCMU's "
               "attrib/zero_copy_stats over the run (`-` when the kernel has none).\n")
    out.append("| job | backend | MiB/s | IOPS | lat µs | CPU-s/GiB | CPU % "
               "| zc cmds | zc bytes | copy cmds | copy bytes |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in R.runs:
        name = f"{r['rw']} {r['bs']} qd{r['qd']}"
        if R.meta.get("repeat", 1) > 1:
            name += f" (pass {r.get('pass', 1)})"
        if "error" in r:
            out.append(f"| {name} | {r['backend']} | failed: {r['error']} |||||||||")
            continue
        t = r.get("tcmu") or {}
        tc = (lambda k, h=False: (human(t[k]) if h else str(t[k])) if k in t else "-")
        out.append(f"| {name} | {r['backend']} | {r['mib_s']:.1f} | {r['iops']:.0f} "
                   f"| {r.get('lat_us', 0):.0f} | {fmt(r.get('cpu_s_per_gib'), '{:.2f}')} "
                   f"| {fmt(r.get('cpu_util'), '{:.0f}')} | {tc('zc_cmds')} "
                   f"| {tc('zc_bytes', True)} | {tc('copy_cmds')} | {tc('copy_bytes', True)} |")
    other = sorted({k for r in R.runs for k in (r.get("tcmu") or {})}
                   - {"zc_cmds", "zc_bytes", "copy_cmds", "copy_bytes"})
    if other:
        out.append("\nTCMU's other counters (deltas over each run; runs where one is not 0):\n")
        out.append("| job | backend | " + " | ".join(other) + " |")
        out.append("|---|---|" + "---:|" * len(other))
        for r in R.runs:
            t = r.get("tcmu")
            if t and any(t.get(k) for k in other):
                out.append(f"| {r['rw']} {r['bs']} qd{r['qd']} | {r['backend']} | "
                           + " | ".join(str(t.get(k, "-")) for k in other) + " |")
    out.append("")


def plot(R, png, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(R.qds), figsize=(6 * len(R.qds), 8), squeeze=False)
    styles = {"tcmu-copy": ("C0", "o", "-"), "tcmu-zc": ("C3", "s", "-"),
              "tcmu-zc-dflt": ("C3", "x", ":"), "ramdisk": ("k", "^", "--"),
              "fileio": ("C7", "v", "--"), "ublk": ("C2", "D", "-."),
              "ublk-zc": ("C1", "P", "-.")}
    xs = list(range(len(R.bss)))
    for i, rw in enumerate(("read", "write")):
        for j, qd in enumerate(R.qds):
            ax = axes[i][j]
            for b in R.backends:
                ys = [R.mib(b, rw, bs, qd) for bs in R.bss]
                pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
                if not pts:
                    continue
                c, m, ls = styles.get(b, (None, "o", "-"))
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=c, marker=m,
                        linestyle=ls, label=b)
            ax.set_xticks(xs)
            ax.set_xticklabels(R.bss)
            ax.set_title(f"sequential {rw}, iodepth {qd}")
            ax.set_xlabel("block size")
            ax.set_ylabel("MiB/s (log scale)")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(png, dpi=90)


def setup_section(R, S, out):
    m = R.meta
    info = m["info"]
    out.append("## Setup\n")
    k = S.get("kernel", {})
    out.append(f"- Guest kernel: `{info.get('uname', '?')}`")
    out.append(f"  - image: `{k.get('image', '?')}`" + (" (KIMG override)" if k.get("override") else
                                                         " (`ci/kernel/build-kernel.sh patched plain`)"))
    if k.get("source"):
        out.append(f"  - source: `{k['source']}` at `{k.get('head', '?')}`")
    if k.get("series"):
        out.append("  - commits on top of the base: " + "; ".join(f"`{c}`" for c in k["series"]))
    if k.get("fragments"):
        out.append("  - config: tinyconfig + kvm_guest.config + "
                   + " + ".join(f"`{f}`" for f in k["fragments"]) + ", then olddefconfig")
    if k.get("config_excerpt"):
        out.append("  - options that matter here: " + ", ".join(f"`{c}`" for c in k["config_excerpt"]))
    if k.get("config_note"):
        out.append(f"  - {k['config_note']}")
    q = S.get("qemu", {})
    out.append(f"- QEMU: `{q.get('version', '?')}`, TCG (no KVM on these machines), "
               f"{info.get('cpus', '?')} vCPUs, guest memory {info.get('memtotal', '?')}")
    h = S.get("host", {})
    out.append(f"- Host: {h.get('cpu', '?')}, {h.get('cpus', '?')} CPUs; load average "
               f"{h.get('load_start', '?')} at the start, {h.get('load_end', '?')} at the end "
               "(the machine is shared: other builds and boots run beside the bench)")
    out.append(f"- fio {R.runs[0].get('fio_version', '?') if R.runs else '?'}; tcmu-runner "
               f"{S.get('tcmu_runner', '?')} with this project's `handler_zcfile.so`")
    out.append(f"- TCMU device: hw_max_sectors {info.get('tcmu_hw_max_sectors', '?')}, "
               f"hw_queue_depth {info.get('tcmu_hw_queue_depth', '?')}, max_data_area_mb "
               f"{info.get('tcmu_max_data_area_mb', '?')}, default zero_copy_min_size "
               f"{info.get('tcmu_zero_copy_min_size_default', 'n/a (no zero copy)')}")
    out.append(f"- Guest CPU busy at rest (all backends up, no I/O, 3 s): "
               f"{info.get('idle_cpu_pct', '?')} % of both vCPUs: the floor under the "
               "CPU % column")
    out.append(f"- ramdisk hw_max_sectors {info.get('ramdisk_hw_max_sectors', '?')}, fileio "
               f"hw_max_sectors {info.get('fileio_hw_max_sectors', '?')}")
    u = S.get("ublk", {})
    if u.get("built"):
        out.append(f"- ublk: kublk built from `{u.get('source', '?')}` by `ci/bench/build-ublk.sh` "
                   f"with Debian's liburing-dev {u.get('liburing', '?')} (liburing before 2.4 "
                   "lacks io_uring_setup_buf_ring()/io_uring_free_buf_ring(), used only by "
                   "kublk's --batch mode: `ci/ublk-liburing-compat.h` supplies them); "
                   f"`{info.get('ublk_cmd', 'kublk add -t loop').strip()}` and "
                   f"`{info.get('ublk-zc_cmd', 'kublk add -t loop -z').strip()}` (2 queues, "
                   "depth 128: kublk's defaults); the kernel's ublk features: "
                   + (", ".join(re.findall(r"UBLK_F_\w+", info.get("ublk_features", ""))) or "?"))
    else:
        out.append(f"- ublk: **kublk could not be built**: {u.get('why', '?')}")
    for b, why in sorted(m.get("not_available", {}).items()):
        out.append(f"- {b}: {why}")
    for w in m.get("warnings", []):
        out.append(f"- warning: {w}")
    out.append("")


def method(R, S, out):
    m = R.meta
    out.append("## Method\n")
    out.append(f"""One boot of the guest runs the whole matrix (`ci/bench.sh` on the host,
`ci/bench/guest-bench.sh` in the guest, `ci/bench/bench_run.py` records each run).
All backends exist at once, each with its own {m['size']} store on tmpfs
(the ramdisk in kernel memory), written whole once before the first run so
that reads hit allocated pages. The SCSI backstores are served through
tcm_loop; ublk devices are `/dev/ublkbN`.

- Backends:""")
    for b in BACKENDS:
        out.append(f"  - `{b}`: {DESCR[b]}")
    out.append(f"""- Jobs: sequential read and write at {', '.join(R.bss)}, random read and
  write at 4k, each at iodepth {' and '.join(str(q) for q in R.qds)}; fio
  `--ioengine=libaio --direct=1 --time_based --runtime={m['runtime_s']:g}
  --ramp_time={m['ramp_s']:g}`, one job, over the whole device.
- Passes: {m.get('repeat', 1)} over the whole matrix (`BENCH_REPEAT`; with more
  than one, each cell is the median run).
- Order: job by job, and within a job every backend in turn, so that a
  change of load on the (shared) host shows across a row, not in one
  backend's column. The three TCMU rows are one device, switched between
  runs through its configfs attributes.
- Per run: throughput and IOPS from fio; guest CPU seconds per GiB from the
  deltas of /proc/stat (busy time of both vCPUs) and of the disk's
  /sys/block/DEV/stat (bytes moved) over the same window; TCMU's counters
  from the deltas of `attrib/zero_copy_stats`.
- The TCMU device is created with `hw_max_sectors=2048` (1 MiB commands reach
  TCMU whole; the default, 128 sectors, would split them into 64 KiB) and
  `control=zero_copy=1` for all three TCMU rows.
- {m['runs']} runs in {S.get('guest_seconds', '?')} s of guest time;
  `make bench` took {S.get('elapsed', '?')} in all (kernel and tool builds
  included when they had to be done).

**Caveat: this is QEMU TCG emulation on a shared 2-CPU machine.** Every
instruction is translated, memory copies cost far more than on hardware,
and the host runs other work at the same time (see its load average under
Setup). Compare the ratios between backends within this run, not the
absolute numbers. A single ratio carries the noise of two {m['runtime_s']:g} s
runs: a few percent on a quiet host, tens of percent on a loaded one (look
for a whole row moving together, and for non-monotonic curves); on a busy
machine run `BENCH_REPEAT=3 make bench` for medians (three times as long).
""")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True)
    ap.add_argument("--setup")
    ap.add_argument("--md")
    ap.add_argument("--png")
    ap.add_argument("--table", action="store_true",
                    help="print the throughput table and TCMU's counters, write nothing")
    a = ap.parse_args()
    meta, runs = load(a.results)
    S = json.load(open(a.setup)) if a.setup and os.path.exists(a.setup) else {}
    R = Results(meta, runs)
    if a.table:
        out = []
        throughput_table(R, out)
        for r in runs:
            t = r.get("tcmu")
            if t:
                out.append(f"{r['backend']} {r['rw']} {r['bs']} qd{r['qd']}: TCMU zc_cmds "
                           f"{t.get('zc_cmds', 0)}, zc_bytes {human(t.get('zc_bytes', 0))}, "
                           f"copy_cmds {t.get('copy_cmds', 0)}, copy_bytes {human(t.get('copy_bytes', 0))}")
        print("\n".join(out[1:]))
        return
    if not a.md or not a.png:
        ap.error("--md and --png are required (or --table)")
    when = S.get("date") or datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = ["# Performance: TCMU zero copy vs copy vs in-kernel vs ublk", "",
           f"Generated by `make bench` on {when} (`{os.path.relpath(a.results)}`); "
           "regenerate it rather than editing it. Sections: Summary, Throughput, "
           "Every run, Setup, Method.", "",
           "**QEMU TCG emulation: compare ratios, not absolute numbers.**", ""]
    failed = [r for r in runs if "error" in r]
    if S.get("status") not in (None, 0):
        out.append(f"**The guest ended with status {S['status']}** "
                   f"({S.get('status_text', '')}); the tables hold what it recorded.\n")
    if len(runs) < meta["runs"]:
        out.append(f"**Incomplete: {len(runs)} of {meta['runs']} runs recorded.**\n")
    if failed:
        out.append(f"**{len(failed)} runs failed** (see Every run).\n")
    if S.get("reduced"):
        out.append(f"**Changed matrix** ({S['reduced']}): not the default `make bench`.\n")
    summary(R, out)
    throughput_table(R, out)
    out.append(f"![throughput by block size per backend]({os.path.basename(a.png)})\n")
    full_table(R, out)
    setup_section(R, S, out)
    method(R, S, out)
    with open(a.md, "w") as f:
        f.write("\n".join(out).rstrip() + "\n")
    uname = meta["info"].get("uname", "").split(" ")
    plot(R, a.png, f"make bench: fio throughput by block size, kernel "
         f"{uname[1] if len(uname) > 1 else '?'} ({when})\nQEMU TCG, "
         f"{meta['info'].get('cpus', '?')} vCPUs: compare ratios, not absolute numbers")


if __name__ == "__main__":
    main()
