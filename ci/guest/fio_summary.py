#!/usr/bin/env python3
"""Turn fio JSON into one JSON line per job, or JSON lines into a table.

  fio --output-format=json ... | fio_summary.py --label copy   >> results.jsonl
  fio_summary.py --table < results.jsonl
"""
import argparse
import json
import sys


def summarize(label):
    data = json.load(sys.stdin)
    for job in data["jobs"]:
        rw = "read" if job["read"]["io_bytes"] else "write"
        side = job[rw]
        cpu = (job.get("usr_cpu", 0) + job.get("sys_cpu", 0)) / 100.0
        secs = job.get("job_runtime", side.get("runtime", 0)) / 1000.0
        gib = side["io_bytes"] / 2**30
        print(json.dumps({
            "label": label,
            "job": job["jobname"],
            "rw": rw,
            "bs": job["job options"].get("bs", ""),
            "mib_s": side["bw_bytes"] / 2**20,
            "iops": side["iops"],
            "cpu_s_per_gib": (cpu * secs / gib) if gib else None,
        }))


def table():
    rows = [json.loads(l) for l in sys.stdin if l.strip()]
    base = {(r["rw"], r["bs"]): r["mib_s"] for r in rows if r["label"] == "copy"}
    print(f"{'mode':10} {'rw':6} {'bs':5} {'MiB/s':>9} {'IOPS':>9} {'vs copy':>8}")
    for r in rows:
        b = base.get((r["rw"], r["bs"]))
        ratio = f"{r['mib_s'] / b:.2f}x" if b else "-"
        print(f"{r['label']:10} {r['rw']:6} {r['bs']:5} {r['mib_s']:9.1f} {r['iops']:9.1f} {ratio:>8}")


ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--label")
ap.add_argument("--table", action="store_true")
a = ap.parse_args()
if a.table:
    table()
else:
    summarize(a.label or "run")
