#!/usr/bin/env python3
"""fio's JSON report, read in one place (tests, demo and bench use it).

  fio_json.py bw FILE      aggregate bandwidth in MiB/s (read + write)

As a module (ci/bench/bench_run.py): load(path) and side(job, rw).
"""
import json
import sys


def load(path):
    """The report of `fio --output-format=json`; text fio printed before
    the JSON (warnings) is skipped."""
    text = open(path).read()
    return json.loads(text[text.index("{"):])


def side(job, rw):
    """The read or write half of one job as a flat dict: MiB/s, IOPS, mean
    completion latency in µs, bytes moved."""
    s = job["write" if "write" in rw else "read"]
    return {
        "mib_s": s["bw_bytes"] / 2**20,
        "iops": s["iops"],
        "lat_us": s.get("clat_ns", {}).get("mean", 0) / 1000.0,
        "fio_bytes": s["io_bytes"],
    }


def bw(path):
    """MiB/s of all jobs, reads plus writes (group_reporting: one job)."""
    jobs = load(path)["jobs"]
    return sum((j["read"]["bw_bytes"] + j["write"]["bw_bytes"]) / 2**20 for j in jobs)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "bw":
        sys.exit(__doc__)
    print(f"{bw(sys.argv[2]):.1f}")
