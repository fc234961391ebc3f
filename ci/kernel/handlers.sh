#!/bin/bash
# Assemble the handler directory tcmu-runner is pointed at in the guest:
# this project's plugin next to Debian's own handlers (symlinks).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
B=${BUILD:-$top/build}
dir=$B/handlers
deb=$(dpkg -L tcmu-runner 2>/dev/null | grep '/handler_[^/]*\.so$' | head -n 1 | xargs -r dirname)
mkdir -p "$dir"
rm -f "$dir"/handler_*.so
[ -f "$B/plugin/handler_zcfile.so" ] || { echo "handlers: build the plugin first (make plugin)" >&2; exit 1; }
ln -s "$B/plugin/handler_zcfile.so" "$dir/handler_zcfile.so"
if [ -n "$deb" ]; then
	for h in "$deb"/handler_*.so; do ln -s "$h" "$dir/"; done
fi
echo "$dir"
