#!/usr/bin/env bash
# Heap and stack of one firmware upload for 30 KB, 500 KB and 2 MB frames, and of one signed
# update (OTA) of 100 KB, 1 MB and 4 MB images (host build, counting
# allocator + painted stack), then a valgrind massif cross-check, size by size, when valgrind exists.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/firmware-bench
cmake -S firmware -B "$build" -DCMAKE_BUILD_TYPE=Release -DCAMCLOUD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target camcloud-firmware-heap-bench >/dev/null
"$build/camcloud-firmware-heap-bench"

if command -v valgrind >/dev/null 2>&1; then
  echo
  echo "valgrind massif, one process per frame size (peak heap includes the C++ runtime's"
  echo "start-up pool, which is the same in every process):"
  out=$(mktemp)
  for size in 30720 512000 2097152; do
    valgrind --tool=massif --stacks=no --massif-out-file="$out" \
      "$build/camcloud-firmware-heap-bench" --only "$size" >/dev/null 2>&1
    peak=$(grep -E '^mem_heap_B=' "$out" | cut -d= -f2 | sort -n | tail -1)
    printf '  %8s bytes frame: peak heap %s bytes\n' "$size" "$peak"
  done
  rm -f "$out"
fi
