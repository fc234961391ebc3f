#!/usr/bin/env python3
"""Count the pages of a TCMU device's zero-copy window that a process has
mapped (present PTEs, from /proc/PID/pagemap).

usage: window_ptes.py PID BACKSTORE

The window is the last window_pages pages of the uio map (map0); every vma
of PID that maps /dev/uioN of BACKSTORE is looked at, whatever part of the
map it covers. Prints the count. When no command of the device is in
flight (and none was completed with KEEP_BUF and kept), it must be 0: a
page mapped then is a stale translation to memory the kernel gave back.
"""
import glob
import os
import re
import struct
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")


def die(msg):
    print("window_ptes: " + msg, file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) != 3:
        die("usage: window_ptes.py PID BACKSTORE")
    pid, name = sys.argv[1], sys.argv[2]
    cfg = glob.glob("/sys/kernel/config/target/core/*/%s" % name)
    if not cfg:
        die("no backstore %s" % name)
    stats = dict(l.split() for l in open(cfg[0] + "/attrib/zero_copy_stats"))
    win = int(stats["window_pages"])
    uio = None
    for n in glob.glob("/sys/class/uio/uio*/name"):
        parts = open(n).read().strip().split("/")
        if len(parts) >= 3 and parts[0] == "tcm-user" and parts[2] == name:
            uio = n.split("/")[-2]
    if uio is None:
        die("no uio device for %s" % name)
    size = int(open("/sys/class/uio/%s/maps/map0/size" % uio).read(), 16)
    wstart, wend = size - win * PAGE, size
    count = 0
    with open("/proc/%s/pagemap" % pid, "rb") as pm:
        for line in open("/proc/%s/maps" % pid):
            f = line.split()
            if len(f) < 6 or not re.search(r"/%s$" % uio, f[5]):
                continue
            start, end = (int(x, 16) for x in f[0].split("-"))
            off = int(f[2], 16)
            lo, hi = max(off, wstart), min(off + end - start, wend)
            for fo in range(lo, hi, PAGE):
                pm.seek((start + fo - off) // PAGE * 8)
                (e,) = struct.unpack("<Q", pm.read(8))
                count += (e >> 63) & 1
    print(count)


main()
