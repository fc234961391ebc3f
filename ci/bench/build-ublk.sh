#!/bin/bash
# Build the kernel's own ublk selftest server, kublk
# (tools/testing/selftests/ublk), from a kernel worktree with Debian's
# packages (gcc, liburing-dev), into build/ublk/kublk. `make bench` uses it
# as the ublk peer of TCMU (loop target on a tmpfs file, with and without
# zero copy).
#
#   ci/bench/build-ublk.sh [VARIANT]     VARIANT: patched (default) | base
#
# Prints the binary's path on stdout. Exit 1, with the reason on stderr,
# when it cannot be built.
#
# Two things differ from the selftest's own Makefile (which needs a
# configured, header-installed tree and the newest liburing):
# - the uapi headers (<linux/ublk_cmd.h>, <linux/io_uring.h>) come from
#   `make headers` into an object directory of ours (headers_install would
#   need rsync, and the worktree stays untouched);
# - Debian 12's liburing is 2.3, which lacks io_uring_setup_buf_ring() and
#   io_uring_free_buf_ring() (2.4): ci/ublk-liburing-compat.h supplies them
#   when liburing.h does not. Only kublk's --batch mode calls them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${BUILD:-$top/build}
variant=${1:-patched}
die() { echo "build-ublk: error: $*" >&2; exit 1; }

src=$B/worktree/$variant
st=$src/tools/testing/selftests/ublk
out=$B/ublk
[ -e "$src/Makefile" ] || die "$src missing: run ci/kernel-tree.sh (make tree) first"
[ -f "$st/kublk.c" ] || die "$st/kublk.c missing: this kernel tree has no ublk selftest server"
[ -f /usr/include/liburing.h ] || die "liburing.h missing: install liburing-dev (make deps)"
command -v gcc >/dev/null || die "gcc missing (make deps)"
mkdir -p "$out"

# Serialize with a concurrent bench of another checkout user.
exec 9>"$out/.lock"
flock 9

# uapi headers of this tree.
make -s -C "$src" O="$out/hdr" ARCH=x86_64 headers >"$out/headers.log" 2>&1 ||
	{ tail -n 20 "$out/headers.log" >&2; die "make headers failed in $src (log: $out/headers.log)"; }
[ -f "$out/hdr/usr/include/linux/ublk_cmd.h" ] || die "no linux/ublk_cmd.h in $src's uapi headers"

srcs=()
for f in "$st"/*.c; do
	case ${f##*/} in metadata_size.c) ;; *) srcs+=("$f");; esac # a standalone tool
done
flags=(-O2 -g -Wall -D_GNU_SOURCE -isystem "$out/hdr/usr/include" -I "$st/..")
grep -q 'io_uring_setup_buf_ring' /usr/include/liburing.h ||
	flags+=(-include "$here/ublk-liburing-compat.h")

# Rebuild only when a source, the headers or the compiler flags changed.
stamp=$( { cat "${srcs[@]}" "$st"/*.h "$here/ublk-liburing-compat.h" \
	"$out/hdr/usr/include/linux/ublk_cmd.h" "$out/hdr/usr/include/linux/io_uring.h";
	echo "${flags[*]}"; } | sha1sum | cut -c1-40)
if [ -x "$out/kublk" ] && [ "$(cat "$out/kublk.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$out/kublk"
	exit 0
fi
rm -f "$out/kublk" "$out/kublk.stamp"
if ! gcc "${flags[@]}" -o "$out/kublk.tmp" "${srcs[@]}" -lpthread -lm -luring >"$out/build.log" 2>&1; then
	grep -E 'error|undefined' "$out/build.log" | head -n 20 >&2
	die "kublk does not build from $st with this liburing ($(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo unknown)); log: $out/build.log"
fi
mv "$out/kublk.tmp" "$out/kublk"
echo "$stamp" > "$out/kublk.stamp"
echo "$out/kublk"
