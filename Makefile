# Zero-copy TCMU: kernel series, tcmu-runner plugin, QEMU harness.
#
#   make demo      build, boot, serve a TCMU LUN, fio copy vs zero copy
#   make check     all tests: host unit tests, then the in-guest suite on the
#                  unpatched base (control) and on the patched kernel, both
#                  debug builds (KASAN, lockdep, DEBUG_VM)
#
#   make deps      install missing Debian packages
#   make tree      kernel trees: build/worktree/{base,patched}
#   make kernel    patched plain kernel      make kernel-debug   patched debug kernel
#   make plugin    tcmu-runner handler       make unit           host unit tests
#   make shell     a shell in the guest (patched plain kernel; FLAVOR=debug)
#   make bench     copy vs zero copy vs in-kernel vs ublk, one boot, plain kernel:
#                  docs/performance.md + .png (KIMG=bzImage: another kernel)
#   make clean     remove build/ outputs but keep downloads and the kernel trees
#
#   The series (patches/README.md; ci/series/):
#   make series-import   recreate the b4 prep branch b4/tcmu-zc from patches/,
#                        checked out in build/worktree/series
#   make series-export   patches/ and series from that branch (b4 prep -p)
#   make series-check    b4 prep --check (checkpatch --strict), no placeholder
#                        identity, byte-stable export (also part of make check)
#   make series-compare  range-diff against the previous revision (REV=vN)
#   make series-build    per patch: the objects it touches, W=1 + sparse,
#                        no new warnings (TAP; not part of make check)
#   make series-deps     install b4 (>= 0.14)
#
# Variables: KERNEL_SRC=<git tree> to apply the series to your own tree;
# TESTS='test_io_*' to run a subset; ZC_INJECT=corrupt to break a test on
# purpose; V=1 to see the guest console.
SHELL := /bin/bash
TOP := $(CURDIR)
B := $(TOP)/build
export KERNEL_SRC
FLAVOR ?= plain
TESTS ?=

.PHONY: all demo check deps tree kernel kernel-debug kernel-base-debug plugin unit \
	handlers shell bench clean help \
	series-deps series-import series-export series-check series-compare series-build

all: demo

help:
	@sed -n '2,/^$$/{s/^# \{0,1\}//;p}' Makefile

deps:
	@ci/deps.sh

tree: deps
	@ci/kernel-tree.sh

kernel: tree
	@ci/build-kernel.sh patched plain >/dev/null

kernel-debug: tree
	@ci/build-kernel.sh patched debug >/dev/null

kernel-base-debug: tree
	@ci/build-kernel.sh base debug >/dev/null

plugin: deps
	@$(MAKE) -s -C tcmu-runner-plugin O=$(B)/plugin
	@ci/handlers.sh >/dev/null

unit: deps
	@$(MAKE) -s -C tcmu-runner-plugin O=$(B)/plugin test

demo: kernel plugin
	@ci/demo.sh

check: deps series-deps
	@ci/check.sh $(TESTS)

series-deps:
	@ci/series/deps.sh

series-import: tree series-deps
	@ci/series/series.py import

series-export: series-deps
	@ci/series/series.py export

series-check: tree series-deps
	@ci/series/series.py check

series-compare: series-deps
	@ci/series/series.py compare $(REV)

series-build: tree
	@ci/series/patch-build.sh

shell: tree plugin
	@ci/vm-run.sh -s -k "$$(ci/build-kernel.sh patched $(FLAVOR))"

bench: tree plugin
	@KIMG='$(KIMG)' ci/bench.sh

clean:
	rm -rf $(B)/kbuild $(B)/plugin $(B)/handlers $(B)/vmout $(B)/logs
