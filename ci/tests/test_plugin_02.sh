#!/bin/bash
# zcfile on the copy path, engine=threads (16 worker threads per device):
# fio write+verify and read+verify with 16 commands in flight, buffered and
# O_DIRECT backing-file I/O (see t_plugin_verify_suite in lib.sh).
. "$(dirname "$0")/lib.sh"
t_plugin_verify_suite threads
