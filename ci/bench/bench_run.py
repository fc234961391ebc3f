#!/usr/bin/env python3
"""One JSON line per bench run (or the meta line), from what bench.sh saved.

  coproc python3 bench_run.py --out R.jsonl
  then one request per line on its stdin (fields tab-separated):
    meta  size=256M runtime=5 ramp=1 runs=N repeat=1 backends="a b" [kv=NAME=VALUE ...]
          [na=BACKEND=REASON ...]
    run   progress="[3/140]" backend=B rw=read bs=1M qd=16 pass=1 fio=fio.json
          pre=DIR post=DIR [error=MSG]
  and one reply line each: "ok LINE" or "fail LINE", LINE being the
  progress line to show. (A server, not a process per run: python's start
  costs seconds in the emulated guest, on a 9p root.)

A run's pre= and post= DIRs hold snapshots taken just before and just
after fio: `cpu` (the cpu line of /proc/stat), `disk` (/sys/block/DEV/stat)
and `tcmu` (TCMU's attrib/zero_copy_stats, "name value" lines, or empty). Throughput
and IOPS are fio's (ramp excluded); CPU seconds per GiB are the guest's
busy CPU time (all CPUs: user, nice, system, irq, softirq, steal) over the
bytes the disk moved in the same window (ramp included in both), so fio's
own cost, the daemon and the kernel all count. A failed run's line
carries "error".
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vm"))
import fio_json  # noqa: E402  (ci/vm/fio_json.py: the one reader of fio's JSON)


def cpu_ticks(path):
    f = open(path).read().split()
    # user nice system idle iowait irq softirq steal [guest guest_nice]:
    # guest time is already counted in user/nice.
    v = [int(x) for x in f[1:9]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    return busy, sum(v)


def disk_bytes(path):
    f = [int(x) for x in open(path).read().split()]
    return (f[2] + f[6]) * 512  # sectors read + written


def counters(path):
    out = {}
    try:
        for line in open(path):
            p = line.split()
            if len(p) >= 2:
                try:
                    out[p[0]] = int(p[1])
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def fio_side(path, rw):
    data = fio_json.load(path)
    rec = fio_json.side(data["jobs"][0], rw)
    rec["fio_version"] = data.get("fio version", "")
    return rec


def human(n):
    """Bytes for people (also used by report.py)."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0


def do_run(a):
    rec = {"type": "run", "backend": a.backend, "rw": a.rw, "bs": a.bs, "qd": int(a.qd),
           "pass": int(getattr(a, "pass", None) or 1)}
    if not a.error:
        try:
            rec.update(fio_side(a.fio, a.rw))
        except (OSError, ValueError, KeyError, IndexError) as e:
            a.error = f"cannot read fio's output: {e}"
    if not a.error:
        b0, t0 = cpu_ticks(os.path.join(a.pre, "cpu"))
        b1, t1 = cpu_ticks(os.path.join(a.post, "cpu"))
        hz = os.sysconf("SC_CLK_TCK")
        moved = disk_bytes(os.path.join(a.post, "disk")) - disk_bytes(os.path.join(a.pre, "disk"))
        cpu_s = (b1 - b0) / hz
        rec["cpu_s"] = cpu_s
        rec["cpu_util"] = 100.0 * (b1 - b0) / (t1 - t0) if t1 > t0 else None
        rec["gib_moved"] = moved / 2**30
        rec["cpu_s_per_gib"] = cpu_s / (moved / 2**30) if moved else None
        pre = counters(os.path.join(a.pre, "tcmu"))
        post = counters(os.path.join(a.post, "tcmu"))
        if post:
            rec["tcmu"] = {k: post[k] - pre.get(k, 0) for k in post}
    if a.error:
        rec["error"] = a.error
    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    what = f"bench: {a.progress} {a.backend} {a.rw} {a.bs} qd{a.qd}:"
    if a.error:
        a.line = f"{what} FAILED: {a.error}"
        return 1
    line = (f"{what} {rec['mib_s']:.1f} MiB/s, {rec['iops']:.0f} IOPS, "
            + (f"{rec['cpu_s_per_gib']:.2f} CPU-s/GiB" if rec["cpu_s_per_gib"] else "- CPU-s/GiB"))
    t = rec.get("tcmu")
    if t:
        cmds = t.get("zc_cmds", 0) + t.get("copy_cmds", 0)
        if cmds:
            line += f", zero-copied {100.0 * t.get('zc_cmds', 0) / cmds:.0f}% of {cmds} cmds"
        line += f", copied {human(t.get('copy_bytes', 0))}"
    a.line = line
    return 0


def do_meta(a):
    rec = {"type": "meta", "size": a.size, "runtime_s": float(a.runtime),
           "ramp_s": float(a.ramp), "runs": int(a.runs), "repeat": int(a.repeat or 1),
           "backends": a.backends.split(),
           "not_available": {}, "info": {}, "warnings": []}
    for kv in a.kv:
        k, _, v = kv.partition("=")
        if k == "warning":
            rec["warnings"].append(v)
        else:
            rec["info"][k] = v
    for kv in a.na:
        k, _, v = kv.partition("=")
        rec["not_available"][k] = v
    u = os.uname()
    rec["info"]["uname"] = f"{u.sysname} {u.release} {u.version} {u.machine}"
    rec["info"]["cpus"] = str(os.cpu_count())
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            rec["info"]["memtotal"] = line.split(":", 1)[1].strip()
    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    a.line = "bench: setup recorded"
    return 0


def serve(out):
    """One request per stdin line, tab-separated: the command (meta | run),
    then NAME=VALUE fields (kv and na repeat). One reply line per request:
    "ok|fail PROGRESS-LINE"."""
    for line in sys.stdin:
        f = line.rstrip("\n").split("\t")
        a = argparse.Namespace(out=out, kv=[], na=[], error=None)
        for field in f[1:]:
            k, _, v = field.partition("=")
            if k in ("kv", "na"):
                getattr(a, k).append(v)
            else:
                setattr(a, k, v or None)
        try:
            rc = do_meta(a) if f[0] == "meta" else do_run(a)
        except Exception as e:  # a broken run must not stop the matrix
            rc, a.line = 1, f"bench: {getattr(a, 'progress', '')} internal error: {e!r}"
        print(("ok " if rc == 0 else "fail ") + getattr(a, "line", ""), flush=True)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    sys.exit(serve(ap.parse_args().out))
