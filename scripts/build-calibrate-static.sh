#!/usr/bin/env bash
# Builds a self-contained gpusim-calibrate to carry to a GPU machine that has no Swift toolchain:
# the Swift runtime and Foundation linked in (--static-swift-stdlib), zstd, zlib and sqlite linked
# from their static archives, the CUDA libraries loaded at run time with dlopen (never linked).
# Only glibc-level libraries remain dynamic. Output: dist/gpusim-calibrate (not tracked by git).
#
#   scripts/build-calibrate-static.sh            # build, check with ldd, copy to dist/
#   SCRATCH=.build-static scripts/build-calibrate-static.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${SCRATCH:-.build-static}"
multiarch="$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"

# A folder holding only the static archives, and pkg-config files that point there (and not at
# the system folder), so that SwiftPM's -lzstd / -lz / -lsqlite3 resolve to the .a files.
static_dir="$PWD/$scratch/static-libs"
mkdir -p "$static_dir/pkgconfig"
for lib in zstd z sqlite3; do
    found=""
    for dir in "/usr/lib/$multiarch" /usr/lib /usr/local/lib /usr/lib64; do
        if [ -f "$dir/lib$lib.a" ]; then found="$dir/lib$lib.a"; break; fi
    done
    if [ -z "$found" ]; then
        echo "build-calibrate-static: lib$lib.a not found (apt install libzstd-dev zlib1g-dev libsqlite3-dev)" >&2
        exit 1
    fi
    ln -sf "$found" "$static_dir/lib$lib.a"
done
for pc in "libzstd zstd" "zlib z" "sqlite3 sqlite3"; do
    set -- $pc
    printf 'Name: %s\nDescription: static %s for gpusim-calibrate\nVersion: 0\nLibs: -L%s -l%s\nCflags:\n' \
        "$1" "$1" "$static_dir" "$2" > "$static_dir/pkgconfig/$1.pc"
done
export PKG_CONFIG_PATH="$static_dir/pkgconfig"
export PKG_CONFIG_LIBDIR="$static_dir/pkgconfig"

swift build -c release --scratch-path "$scratch" --product gpusim-calibrate \
    --static-swift-stdlib \
    -Xlinker --gc-sections

bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/gpusim-calibrate"
mkdir -p dist
cp "$bin" dist/gpusim-calibrate
strip dist/gpusim-calibrate 2>/dev/null || true

# Only the C library and its kin may remain dynamic.
allowed='^(linux-vdso\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|ld-linux[-a-z0-9_]*\.so|libstdc\+\+\.so|libgcc_s\.so|libutil\.so)'
bad="$(ldd dist/gpusim-calibrate | awk '{print $1}' | sed 's|.*/||' | grep -Ev "$allowed" || true)"
echo "build-calibrate-static: dist/gpusim-calibrate ($(du -h dist/gpusim-calibrate | cut -f1)); dynamic libraries:" >&2
ldd dist/gpusim-calibrate >&2
if [ -n "$bad" ]; then
    echo "build-calibrate-static: unexpected dynamic libraries: $bad" >&2
    exit 1
fi
