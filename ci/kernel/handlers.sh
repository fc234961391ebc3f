#!/bin/bash
# Assemble the handler directory tcmu-runner is pointed at in the guest
# (build/handlers): this project's handlers as built by `make plugin`
# (handler_zcfile.so, and the test-only handler_zctest.so of
# ci/tests/zctest/) next to Debian's own handlers (symlinks). The only
# writer of build/handlers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
dir=$B/handlers
deb=$(dpkg -L tcmu-runner 2>/dev/null | grep '/handler_[^/]*\.so$' | head -n 1 | xargs -r dirname)
[ -f "$B/plugin/handler_zcfile.so" ] || { echo "handlers: build the plugin first (make plugin)" >&2; exit 1; }
mkdir -p "$dir"
rm -f "$dir"/handler_*.so
for h in "$B"/plugin/handler_*.so; do ln -s "$h" "$dir/"; done
if [ -n "$deb" ]; then
	for h in "$deb"/handler_*.so; do ln -s "$h" "$dir/"; done
fi
echo "$dir"
