#!/usr/bin/env bash
# Type-checks the firmware against the REAL libraries it is flashed with: every firmware/src
# file, the portable core and the Arducam_Mega driver (ArducamCamera.c, Arducam_Mega.cpp,
# ArducamSpi.cpp), for esp32 and esp32s3, with each chip's flags read from the framework's
# platform.txt.
#
# No ESP32 (Xtensa) compiler is reachable here, so a 32-bit newlib cross compiler stands in
# (arm-none-eabi-gcc/g++ -fsyntax-only, Debian gcc-arm-none-eabi and
# libstdc++-arm-none-eabi-newlib); -D__XTENSA__ -D__XTENSA_WINDOWED_ABI__ make the ESP-IDF
# headers take their Xtensa paths. This catches what `pio run` would reject at compile time
# (missing declarations, type clashes, wrong signatures), not link or code-generation errors.
#
# Where the libraries come from:
#   FIRMWARE_DEPS set  -> $FIRMWARE_DEPS/framework-arduinoespressif32 and $FIRMWARE_DEPS/Arducam_Mega
#                         (.ci/run sets it to the folder CI provides); missing parts fail.
#   FIRMWARE_DEPS unset -> PlatformIO's own copies, when a `pio run` has fetched them:
#                         ~/.platformio/packages/framework-arduinoespressif32 and
#                         firmware/.pio/libdeps/<env>/Arducam_Mega. Without them it prints one line
#                         saying the check did not run and why, and exits 0.
#
# Output: one line per (chip, file), then a summary; exit 1 on any compile error.
set -euo pipefail

FIRMWARE_DIR="$(cd "$(dirname "$0")/.." && pwd)"
read -r -a CHIPS <<<"${CAMCLOUD_CHECK_CHIPS:-esp32 esp32s3}"
JOBS="${CAMCLOUD_CHECK_JOBS:-2}"

skip() {
    echo "real-header check did not run: $*"
    exit 0
}
fail() {
    echo "real-header check FAILED: $*" >&2
    exit 1
}

if [ -n "${FIRMWARE_DEPS:-}" ]; then
    framework="$FIRMWARE_DEPS/framework-arduinoespressif32"
    arducam="$FIRMWARE_DEPS/Arducam_Mega"
    [ -f "$framework/platform.txt" ] || fail "FIRMWARE_DEPS=$FIRMWARE_DEPS has no framework-arduinoespressif32/platform.txt"
    [ -f "$arducam/src/Arducam_Mega.h" ] || fail "FIRMWARE_DEPS=$FIRMWARE_DEPS has no Arducam_Mega/src/Arducam_Mega.h"
else
    framework="${HOME:-/nonexistent}/.platformio/packages/framework-arduinoespressif32"
    arducam=""
    for candidate in "$FIRMWARE_DIR"/.pio/libdeps/*/Arducam_Mega; do
        [ -f "$candidate/src/Arducam_Mega.h" ] && { arducam="$candidate"; break; }
    done
    [ -f "$framework/platform.txt" ] || skip "FIRMWARE_DEPS is unset and PlatformIO has not fetched arduino-esp32 ($framework); set FIRMWARE_DEPS or run 'pio run' in firmware/ once"
    [ -n "$arducam" ] || skip "FIRMWARE_DEPS is unset and firmware/.pio/libdeps/*/Arducam_Mega does not exist; set FIRMWARE_DEPS or run 'pio run' in firmware/ once"
fi
for tool in arm-none-eabi-gcc arm-none-eabi-g++ python3; do
    command -v "$tool" >/dev/null 2>&1 ||
        fail "$tool not found (Debian: gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib; scripts/system-deps.sh installs them)"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# platform.txt -> one argument per line, {compiler.sdk.path} resolved. Quoted -I paths lose their
# quotes; -DX="..." keeps them, so the macro stays a string literal as in the real build.
platform_args() {  # <key> <sdk path>
    python3 - "$framework/platform.txt" "$1" "$2" <<'EOF'
import shlex, sys
path, key, sdk = sys.argv[1:]
values = {}
for line in open(path, encoding="utf-8"):
    name, sep, value = line.rstrip("\n").partition("=")
    if sep and not name.startswith("#"):
        values[name.strip()] = value
if key not in values:
    sys.exit(f"{key} is not in {path}")
for token in shlex.split(values[key].replace("{compiler.sdk.path}", sdk), posix=False):
    if len(token) > 1 and token[0] == token[-1] == '"':
        token = token[1:-1]
    print(token)
EOF
}

# Flags of the Xtensa GCC (or of the Arduino IDE's dependency files) that arm-none-eabi does not take.
drop_flag() {
    case "$1" in
        -mlongcalls | -mfix-esp32-psram-cache-issue | -MMD | -c | -ggdb) return 0 ;;
    esac
    return 1
}

# The files checked: the glue, the portable core, and the Arducam driver.
sources=()
for f in "$FIRMWARE_DIR"/src/*.cpp "$FIRMWARE_DIR"/lib/camcloud_core/src/camcloud/*.cpp; do
    sources+=("$f")
done
sources+=("$arducam/src/Arducam/ArducamCamera.c" "$arducam/src/Arducam_Mega.cpp"
          "$arducam/src/Arducam/ArducamSpi.cpp")

for chip in "${CHIPS[@]}"; do
    sdk="$framework/tools/sdk/$chip"
    [ -d "$sdk/include" ] || fail "$sdk/include does not exist"
    case "$chip" in
        esp32)   variant=esp32;   board=ESP32_DEV;   usb=() ;;
        esp32s3) variant=esp32s3; board=ESP32S3_DEV
                 usb=(-DARDUINO_USB_MODE=1 -DARDUINO_USB_CDC_ON_BOOT=0 -DARDUINO_USB_MSC_ON_BOOT=0
                      -DARDUINO_USB_DFU_ON_BOOT=0) ;;
        *) fail "no board settings for chip $chip" ;;
    esac
    # The memory type platformio.ini's esp32dev / esp32-s3-devkitc-1 build with (quad PSRAM).
    memory="$sdk/qio_qspi/include"
    [ -d "$memory" ] || memory="$sdk/dio_qspi/include"

    mapfile -t cpp_flags < <(platform_args "compiler.cpreprocessor.flags.$chip" "$sdk")
    mapfile -t c_raw < <(platform_args "compiler.c.flags.$chip" "$sdk")
    mapfile -t cxx_raw < <(platform_args "compiler.cpp.flags.$chip" "$sdk")
    c_flags=()
    for f in "${c_raw[@]}"; do drop_flag "$f" || c_flags+=("$f"); done
    cxx_flags=()
    for f in "${cxx_raw[@]}"; do
        drop_flag "$f" && continue
        # platformio.ini: build_unflags = -std=gnu++11, build_flags = -std=gnu++17 (C++ only).
        [ "$f" = "-std=gnu++11" ] && f=-std=gnu++17
        cxx_flags+=("$f")
    done
    for f in "${c_flags[@]}"; do
        case "$f" in -std=gnu++*) fail "a C++ -std reached the C compiler flags: $f" ;; esac
    done

    includes=("-I$memory" "-I$framework/cores/esp32" "-I$framework/variants/$variant")
    for lib in "$framework"/libraries/*/src; do includes+=("-I$lib"); done
    includes+=("-I$arducam/src" "-I$FIRMWARE_DIR/include" "-I$FIRMWARE_DIR/src"
               "-I$FIRMWARE_DIR/lib/camcloud_core/src")
    # What platform.txt's recipe and PlatformIO's builder define, plus platformio.ini's build_flags.
    defines=(-D__XTENSA__ -D__XTENSA_WINDOWED_ABI__ -DESP32 -DARDUINO=10812 -DARDUINO_ARCH_ESP32
             "-DARDUINO_$board" "-DARDUINO_BOARD=\"$board\"" "-DARDUINO_VARIANT=\"$variant\""
             -DF_CPU=240000000L -DCORE_DEBUG_LEVEL=1 -DBOARD_HAS_PSRAM
             -DCAMCLOUD_USE_EXAMPLE_CONFIG=1 "${usb[@]}")

    for src in "${sources[@]}"; do
        name="${src#"$FIRMWARE_DIR"/}"
        case "$src" in "$arducam"/*) name="Arducam_Mega/${src#"$arducam"/}" ;; esac
        log="$work/$chip-$(echo "$name" | tr '/' '_').log"
        if [[ "$src" == *.c ]]; then
            cmd=(arm-none-eabi-gcc "${cpp_flags[@]}" "${c_flags[@]}")
        else
            cmd=(arm-none-eabi-g++ "${cpp_flags[@]}" "${cxx_flags[@]}")
        fi
        cmd+=("${defines[@]}" "${includes[@]}" -fsyntax-only -Wall -Wextra "$src")
        # Run JOBS compiles at a time; each writes its own log and status.
        while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
        ( if "${cmd[@]}" >"$log" 2>&1; then echo ok >"$log.status"; else echo FAIL >"$log.status"; fi ) &
        echo "$chip|$name|$log" >>"$work/index"
    done
done
wait

failed=0
total=0
library_warnings=0
while IFS='|' read -r chip name log; do
    total=$((total + 1))
    status="$(cat "$log.status" 2>/dev/null || echo FAIL)"
    # Warnings in the firmware's own files are shown; the libraries' own (the stand-in compiler
    # disagrees with some Xtensa-only attributes in their headers) are only counted.
    ours="$(grep -c "^$FIRMWARE_DIR/.*warning:" "$log" || true)"
    theirs=$(( $(grep -c 'warning:' "$log" || true) - ours ))
    library_warnings=$((library_warnings + theirs))
    if [ "$status" = ok ]; then
        printf '%-8s %-52s ok%s\n' "$chip" "$name" "$([ "$ours" -gt 0 ] && echo " ($ours warnings)")"
        [ "$ours" -gt 0 ] && grep "^$FIRMWARE_DIR/.*warning:" "$log" | sed 's/^/    /'
        # CAMCLOUD_CHECK_WARNINGS=1 lists the libraries' warnings too.
        [ "${CAMCLOUD_CHECK_WARNINGS:-0}" = 1 ] && { grep 'warning:' "$log" | sed 's/^/    /' || true; }
    else
        failed=$((failed + 1))
        printf '%-8s %-52s FAIL (%s errors)\n' "$chip" "$name" "$(grep -c 'error:' "$log" || true)"
        grep -E 'error:|note:' "$log" | head -n 15 | sed 's/^/    /'
    fi
done <"$work/index"

echo "real-header check: $library_warnings warnings inside the real libraries' headers and sources (CAMCLOUD_CHECK_WARNINGS=1 lists them)"
echo "real-header check: $((total - failed))/$total translation units compile for ${CHIPS[*]} (framework-arduinoespressif32 $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$framework/package.json" 2>/dev/null || echo '?'), Arducam_Mega $(grep -m1 '^version=' "$arducam/library.properties" 2>/dev/null | cut -d= -f2 || echo '?'))"
[ "$failed" -eq 0 ]
