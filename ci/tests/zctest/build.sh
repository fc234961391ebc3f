#!/bin/bash
# Build the test-only handler (handler_zctest.so) against Debian's tcmu
# headers and link it into the handler directory the guest's tcmu-runner
# uses. Run after `make plugin` (ci/handlers.sh rebuilds that directory).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
B=${BUILD:-$top/build}
src=$("$top/ci/tcmu-src.sh")
mkdir -p "$B/plugin" "$B/handlers"
gcc -O2 -g -Wall -Wextra -Werror -std=gnu99 -fPIC -shared \
	-I"$src" -I"$src/ccan" -o "$B/plugin/handler_zctest.so" "$here/handler_zctest.c"
ln -sfn "$B/plugin/handler_zctest.so" "$B/handlers/handler_zctest.so"
