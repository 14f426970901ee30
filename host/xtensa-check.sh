#!/bin/sh
# Compile the pure-C inference kernels with an Xtensa cross compiler, as a
# stand-in for the ESP32-S3 toolchain (ESP-IDF is not needed for this check).
#
# Usage: host/xtensa-check.sh [DIR]        (default: usermod/llm)
#
# Every DIR/*.c is compiled, except the MicroPython binding (modllm.c), files
# whose name starts with "mp", and files that include MicroPython's "py/"
# headers: those need the MicroPython build and are covered by the firmware
# build. The kernels must build warning-free with -Wdouble-promotion and
# -Wfloat-conversion, because the ESP32-S3 FPU is single precision only: any
# float->double promotion becomes slow soft-float code on the chip.
#
# The compiler is Debian's xtensa-lx106-elf-gcc (the ESP8266's core, same
# Xtensa ISA family, 32-bit int/long/pointers, no FPU) with picolibc. It checks
# that the kernels are portable freestanding C for a 32-bit Xtensa target;
# it does not produce code for the ESP32-S3.
#
# Environment:
#   XTENSA_CC        compiler (default: xtensa-lx106-elf-gcc)
#   XTENSA_SPECS     picolibc specs (default: /usr/lib/xtensa-lx106-elf/picolibc.specs)
#   XTENSA_NO_DOUBLE=1  also fail when an object calls double-precision
#                    soft-float helpers (__adddf3, __muldf3, ...); otherwise
#                    they are only reported.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
dir=${1:-$root/usermod/llm}
cc=${XTENSA_CC:-xtensa-lx106-elf-gcc}
specs=${XTENSA_SPECS:-/usr/lib/xtensa-lx106-elf/picolibc.specs}

missing() {
    echo "xtensa-check: $1" >&2
    echo "xtensa-check: install the Xtensa cross compiler and C library with:" >&2
    echo "    apt-get install gcc-xtensa-lx106 picolibc-xtensa-lx106-elf" >&2
    exit 1
}

command -v "$cc" >/dev/null 2>&1 || missing "compiler '$cc' not found"
[ -f "$specs" ] || missing "picolibc specs file '$specs' not found"
[ -d "$dir" ] || { echo "xtensa-check: no such directory: $dir" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xtensa-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Keep this list in sync with the README and tests/test_xtensa.py.
set -- --specs="$specs" -mlongcalls -O2 -Werror -Wall -Wextra \
    -Wdouble-promotion -Wfloat-conversion -std=gnu99 -I"$dir"

checked=0
failed=0
skipped=""
for src in "$dir"/*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src")
    case "$name" in
        modllm.c | mp*) skipped="$skipped $name"; continue ;;
    esac
    if grep -q '#[[:space:]]*include[[:space:]]*[<"]py/' "$src"; then
        skipped="$skipped $name"
        continue
    fi
    obj="$tmp/${name%.c}.o"
    if "$cc" "$@" -c "$src" -o "$obj"; then
        echo "ok      $name"
        checked=$((checked + 1))
        dbl=$("${cc%gcc}nm" -u "$obj" 2>/dev/null |
              awk '$NF ~ /^__(add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|unord)df[23]$|^__(extendsfdf2|truncdfsf2|fix(uns)?dfsi|float(un)?sidf)$/ {print $NF}' |
              tr '\n' ' ')
        if [ -n "$dbl" ]; then
            echo "        warning: $name uses double-precision soft-float helpers: $dbl" >&2
            if [ "${XTENSA_NO_DOUBLE:-0}" = 1 ]; then failed=$((failed + 1)); fi
        fi
    else
        echo "FAILED  $name" >&2
        failed=$((failed + 1))
    fi
done

[ -z "$skipped" ] || echo "skipped (MicroPython bindings):$skipped"
if [ "$checked" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "xtensa-check: no pure-C kernel files found in $dir" >&2
    exit 1
fi
if [ "$failed" -ne 0 ]; then
    echo "xtensa-check: $failed file(s) failed to compile cleanly for Xtensa ($cc)" >&2
    exit 1
fi
echo "xtensa-check: $checked file(s) compiled cleanly for Xtensa ($cc)"
