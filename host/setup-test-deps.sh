#!/bin/sh
# Install what `make test` needs and this machine lacks: Debian packages
# (compilers, emulators, valgrind) and the Python packages of
# requirements-dev.txt.  Checks first, so on a machine that has everything it
# changes nothing and takes a fraction of a second.
#
#   sh host/setup-test-deps.sh [PYTHON]
#
# Installing Debian packages needs root.  Run as another user, it installs
# nothing and prints the command to run instead.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${1:-python3}

# The host firmware and tools (libffi for the unix port's ffi module, which
# tests/test_asan.py also uses; build-essential brings the ASan and UBSan
# runtimes and nm); the emulated Cortex-M3 (qemu port, arm GCC);
# the Xtensa compile check (lx106 GCC + picolibc); the emulated ESP32-S3's
# run-time libraries; valgrind for the benchmarks; cmake for the ESP-IDF
# board checks; for the ESP-IDF firmware build with the offline kit
# (tests/test_firmware_idf.py): ninja, the kit compiler's shared libraries,
# and venv (host/unpack-esp-idf-kit.sh pip-installs ESP-IDF's Python
# packages, ../shared/esp-idf/requirements-idf.txt, into a venv of its own).
APT_PACKAGES="build-essential pkg-config libffi-dev curl xz-utils ca-certificates valgrind cmake
    gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
    gcc-xtensa-lx106 picolibc-xtensa-lx106-elf
    libglib2.0-0 libpixman-1-0 libfdt1
    ninja-build libmpc3 libmpfr6 libgmp10 zlib1g libzstd1 python3-venv"
# The modules requirements-dev.txt provides, by import name.
PY_MODULES="numpy pytest mpremote mypy elftools ar"

sudo_hint() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: make test needs these Debian packages, and installing them needs root:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $*" >&2
        echo "then run make test again." >&2
        exit 1
    fi
}

if command -v dpkg >/dev/null 2>&1; then
    missing=""
    for p in $APT_PACKAGES; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    # pip itself, where Python came from Debian without it.
    "$PYTHON" -m pip --version >/dev/null 2>&1 || missing="$missing python3-pip"
    if [ -n "$missing" ]; then
        sudo_hint $missing
        echo "installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
else
    echo "warning: not a Debian system; make sure these (or your system's equivalents) are installed:" >&2
    echo "  $APT_PACKAGES" >&2
fi

absent=""
for m in $PY_MODULES; do
    "$PYTHON" -c "import $m" >/dev/null 2>&1 || absent="$absent $m"
done
if [ -n "$absent" ]; then
    echo "installing Python packages (requirements-dev.txt) for:$absent"
    if ! "$PYTHON" -m pip install -q -r requirements-dev.txt 2>/tmp/llm-pip.$$; then
        if grep -q externally-managed /tmp/llm-pip.$$; then
            # Debian's own Python refuses system-wide pip installs (PEP 668);
            # the user's site-packages is the least intrusive place.
            "$PYTHON" -m pip install -q --user --break-system-packages -r requirements-dev.txt
        else
            cat /tmp/llm-pip.$$ >&2; rm -f /tmp/llm-pip.$$; exit 1
        fi
    fi
    rm -f /tmp/llm-pip.$$
fi
