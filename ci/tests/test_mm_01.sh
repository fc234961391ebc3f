#!/bin/bash
# The mm half of the series through real vmas: the kselftest
# mm/special_insert (vm_insert_pages_special(), unmap_special_mapping_range(),
# the walk_page_mapping() fix) against the test module
# /dev/test_special_insert (CONFIG_TEST_SPECIAL_INSERT, patched kernel).
. "$(dirname "$0")/lib.sh"
bin=$REPO_TOP/build/selftests/${T_KERNEL:-patched}/special_insert
[ -e /dev/test_special_insert ] || skip "no /dev/test_special_insert (kernel without the mm patches)"
[ -x "$bin" ] || skip "$bin not built (ci/kernel/build-selftests.sh)"
"$bin" || fail "special_insert selftest failed"
