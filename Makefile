# Zero-copy TCMU: kernel series, tcmu-runner plugin, QEMU harness.
# `make` alone prints the help below (the lines starting with "##").
##
## The two commands (Debian 12 x86_64, as root; README.md has what they need
## and cost):
##   make demo        build, boot, serve a TCMU LUN, fio copy vs zero copy
##   make check       all tests: host checks and unit tests, then the in-guest
##                    suite on the patched debug kernel (KASAN, lockdep,
##                    DEBUG_VM), compared with the unpatched kernel's checked-in
##                    transcript (ci/tests/control/)
##
## Other targets:
##   make control     the control suite on the unpatched base debug kernel;
##                    regenerates ci/tests/control/ (commit the result)
##   make unit        the plugin's host unit tests (needs gcc only)
##   make deps        install every missing Debian package
##   make tree        kernel trees: build/worktree/{base,patched}
##   make kernel      patched plain kernel (prints the bzImage path)
##   make kernel-debug  patched debug kernel; make kernel-base-debug: unpatched
##   make plugin      build/plugin/handler_zcfile.so and build/handlers/
##   make shell       a root shell in the guest (FLAVOR=debug: the debug kernel)
##   make bench       copy vs zero copy vs in-kernel vs ublk, one boot, plain
##                    kernel: docs/performance.md and .png
##   make bench-plugin  the plugin's engines (io_uring, threads) at queue depth
##                    1 and 16, zero copy off/on: build/vmout/plugin-engines-*.txt
##   make mm-bench    vm_insert_pages_special + unmap vs memcpy (docs/special-insert-bench.md)
##   make clean       remove build outputs, keep downloads and kernel trees
##
## The series (patches/README.md, ci/series/README.md):
##   make series-import   recreate the b4 prep branch b4/tcmu-zc from patches/,
##                        checked out in build/worktree/series
##   make series-export   patches/ and series from that branch (b4 prep -p)
##   make series-check    b4 prep --check (checkpatch --strict), no placeholder
##                        identity, byte-stable export (part of make check)
##   make series-compare  range-diff against an earlier revision (REV=vN)
##   make series-build    per patch: the objects it touches, W=1 + sparse, no
##                        new warnings (part of make check)
##   make series-deps     install b4 (>= 0.14)
##
## Variables (make VAR=value ..., or in the environment):
##   TESTS=PATTERN    check/control: only the tests matching the shell patterns
##                    (e.g. TESTS='test_io_* test_zc_01'); ci/tests/tests.list
##                    says which test runs on which kernel, and its time limit
##   INJECT=corrupt   check: corrupt the backing file inside test_io_02 (the
##                    harness must then fail)
##   V=1              check/control/demo/bench: stream the guest's kernel console too
##   T_TRACE=1        check/control: each test's commands with their start times
##                    in build/vmout/TEST.trace (where a test spends its time)
##   FLAVOR=plain|debug  shell: the kernel flavor (default plain)
##   KERNEL_SRC=DIR   apply the series to your own kernel git tree (on branch
##                    APPLIED_BRANCH, in a worktree under build/) instead of
##                    Debian's source
##   KDEB=VERSION     the Debian linux source version to base on (default the
##                    series' 7.2.8-1; served versions are listed when it is gone)
##   APT_MIRROR=URL   the Debian archive (or a snapshot of it) for source packages
##   APT_SUITES=...   the suites indexed for them (default: sid and this release)
##   APT_PRIV=DIR     the private apt state (default build/apt)
##   APPLIED_BRANCH=NAME  the branch the series is applied on (tcmu-zc-applied)
##   DEV_TREE=DIR     ci/kernel/build-kernel.sh NAME FLAVOR, mm-bench: build this
##                    kernel tree as it is (a development branch of the series)
##   VARIANT=NAME     mm-bench: the object directory build/kbuild/NAME-FLAVOR
##   EXTRA_CONFIG=FILES  more config fragments for every kernel build
##   JOBS=N           kernel build parallelism (default: the number of CPUs)
##   CCACHE_DIR=DIR   the compiler cache (default ~/.cache/ccache)
##   BUILD=DIR        where everything built goes (default build/)
##   TCMU_SRC=DIR     plugin: an unpacked tcmu-runner source tree for its headers
##                    (default: Debian's, fetched into build/src/tcmu)
##   URING=0          plugin/unit: build without liburing (threads engine only)
##                    (installing the plugin elsewhere: tcmu-runner-plugin/README.md)
##   KIMG=FILE        bench/bench-plugin: boot this bzImage instead of the patched
##                    plain kernel
##   BENCH_SIZE BENCH_RUNTIME BENCH_RAMP BENCH_BS BENCH_QD BENCH_BACKENDS
##   BENCH_REPEAT BENCH_RANDOM BENCH_CPUS BENCH_DOCS  bench: the matrix
##                    (ci/bench/README.md); bench-plugin: BENCH_RUNTIME, BENCH_OUT
##   DEMO_RUNTIME=S   demo: seconds per fio run (default 10)
##   ZC05_COPY=1      check/control: test_zc_05 on the copy path (make control
##                    TESTS=test_zc_05 then shows the stock kernel failing it)
##   REV=vN           series-compare: the revision to compare with
##   SERIES_NAME=NAME series-*: the prep branch b4/NAME (default tcmu-zc)
SHELL := /bin/bash
TOP := $(CURDIR)
BUILD ?= $(TOP)/build
B := $(BUILD)
# Passed on to the scripts when set (an empty one stays unset).
USER_VARS := KERNEL_SRC KDEB APT_MIRROR APT_SUITES APT_PRIV APPLIED_BRANCH DEV_TREE VARIANT \
	EXTRA_CONFIG JOBS CCACHE_DIR TCMU_SRC URING KIMG V DEMO_RUNTIME SERIES_NAME \
	BENCH_SIZE BENCH_RUNTIME BENCH_RAMP BENCH_BS BENCH_QD BENCH_BACKENDS BENCH_REPEAT \
	BENCH_RANDOM BENCH_CPUS BENCH_DOCS BENCH_OUT ZC05_COPY
$(foreach v,$(USER_VARS),$(if $(value $(v)),$(eval export $(v))))
export BUILD
FLAVOR ?= plain
TESTS ?=
INJECT ?=

.DEFAULT_GOAL := help
.PHONY: help demo check control deps tree kernel kernel-debug kernel-base-debug plugin unit \
	shell bench bench-plugin mm-bench clean \
	series-deps series-import series-export series-check series-compare series-build

help:
	@sed -n 's/^## \{0,1\}//p' Makefile

deps:
	@ci/kernel/deps.sh all

tree:
	@ci/kernel/deps.sh kernel
	@ci/kernel/kernel-tree.sh

kernel: tree
	@ci/kernel/build-kernel.sh patched plain

kernel-debug: tree
	@ci/kernel/build-kernel.sh patched debug

kernel-base-debug: tree
	@ci/kernel/build-kernel.sh base debug

plugin:
	@ci/kernel/deps.sh plugin
	@$(MAKE) -s -C tcmu-runner-plugin O=$(B)/plugin
	@ci/kernel/handlers.sh >/dev/null

unit:
	@ci/kernel/deps.sh unit
	@$(MAKE) -s -C tcmu-runner-plugin O=$(B)/plugin test

demo: tree plugin
	@ci/kernel/deps.sh vm
	@ci/demo.sh

check:
	@ci/kernel/deps.sh check
	@ci/series/deps.sh
	@T_INJECT='$(INJECT)' T_TRACE='$(T_TRACE)' ci/check.sh $(TESTS)

control:
	@ci/kernel/deps.sh check
	@T_TRACE='$(T_TRACE)' ci/check.sh --control $(TESTS)

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
	@ci/kernel/deps.sh vm
	@img=$$(ci/kernel/build-kernel.sh patched $(FLAVOR)) && ci/vm/vm-run.sh -s -k "$$img"

bench: tree plugin
	@ci/kernel/deps.sh bench
	@ci/bench/bench.sh

bench-plugin: tree plugin
	@ci/kernel/deps.sh vm
	@img=$${KIMG:-$$(ci/kernel/build-kernel.sh patched plain)} && \
		ci/vm/vm-run.sh -k "$$img" -m 3G -t 3600 $(if $(V),-v) -- ci/bench/plugin-engines.sh

mm-bench: tree
	@ci/kernel/deps.sh vm
	@ci/bench/mm-bench.sh

clean:
	rm -rf $(B)/kbuild $(B)/plugin $(B)/handlers $(B)/vmout $(B)/logs $(B)/results \
		$(B)/selftests $(B)/ublk $(B)/mmbench-out
