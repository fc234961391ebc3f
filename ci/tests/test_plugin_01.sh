#!/bin/bash
# zcfile on the copy path, engine=uring (one io_uring per device): fio
# write+verify and read+verify with 16 commands in flight, buffered and
# O_DIRECT backing-file I/O (see zc_plugin_verify_suite in test_common.sh).
. "$(dirname "$0")/test_common.sh"
zc_plugin_verify_suite uring
