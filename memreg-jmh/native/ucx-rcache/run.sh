#!/usr/bin/env bash
# Builds rcache_bench.c against Debian's UCX (libucx-dev) and runs the grid
#   hit : buffers {1, 1024} x threads {1, 2}, size 65536
#   miss: threads {1, 2}, size 65536
# printing one machine-readable line per case.
#
# Environment (all optional):
#   SECONDS_PER_CASE  measured seconds per case        (default 3)
#   WARMUP            untimed warm-up seconds per case (default 0.5)
#   REPEAT            how many times to run the grid   (default 1)
#   SIZE              buffer size in bytes             (default 65536)
#   BUILD_DIR         where the binary goes (default /tmp/memreg-ucx-rcache)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
seconds="${SECONDS_PER_CASE:-3}"
warmup="${WARMUP:-0.5}"
repeat="${REPEAT:-1}"
size="${SIZE:-65536}"
build="${BUILD_DIR:-/tmp/memreg-ucx-rcache}"

# --- dependencies: gcc, pkg-config and UCX headers/libs (Debian 12: 1.13.1)
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -f /usr/include/ucs/memory/rcache.h ] || need+=(libucx-dev libucx0)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "run.sh: missing ${need[*]}; run as root, or: sudo apt-get install -y ${need[*]}" >&2
        exit 1
    fi
    echo "run.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${need[@]}" >&2
fi

# --- build (out of the source tree; never committed)
mkdir -p "$build"
if pkg-config --exists ucx-ucs 2>/dev/null; then
    ucx_flags="$(pkg-config --cflags --libs ucx-ucs)"
else
    ucx_flags="-lucs -lucm"
fi
# shellcheck disable=SC2086
gcc -O2 -Wall -Wextra -pthread -o "$build/rcache_bench" "$here/rcache_bench.c" $ucx_flags
bin="$build/rcache_bench"

ucx_version="$(pkg-config --modversion ucx-ucs 2>/dev/null || echo unknown)"
echo "# ucx $ucx_version, $(nproc) cpus, size=$size, ${seconds}s measured + ${warmup}s warm-up per case" >&2

# --- behaviour check: does munmap() invalidate a cached region?
"$bin" --check-hooks || echo "# --check-hooks failed (is UCX_MEM_EVENTS=no set?)" >&2

# --- the grid
for ((r = 1; r <= repeat; r++)); do
    for buffers in 1 1024; do
        for threads in 1 2; do
            "$bin" --buffers "$buffers" --size "$size" --threads "$threads" \
                   --seconds "$seconds" --warmup "$warmup"
        done
    done
    for threads in 1 2; do
        "$bin" --miss --size "$size" --threads "$threads" \
               --seconds "$seconds" --warmup "$warmup"
    done
done
