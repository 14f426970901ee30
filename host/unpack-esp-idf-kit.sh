#!/bin/sh
# Unpack the offline ESP-IDF v5.2.2 build kit (SHARED_DIR/esp-idf, see its
# README.md) for `make firmware` without IDF_PATH: each tarball is checked by
# sha256 first.  Images built with it are for build, link, size and symbol
# checks only: never flash them (its Wi-Fi blobs are stubs).
#
#   sh host/unpack-esp-idf-kit.sh SHARED_DIR KIT_DIR ESP32_DEPS_DIR
#
# KIT_DIR gets the tools:   xtensa-esp32s3-elf/ esp-idf-v5.2.2-s3/ idf-tools/ venv/
# ESP32_DEPS_DIR gets the trees the build reads, side by side as the kit's
# relative override_paths expect:  micropython-1.25.0/ idf-components/
# (with espressif__esp-nn/ from SHARED_DIR/third_party).  They are kept apart
# from deps/micropython-1.25.0, which the host and emulator builds use.
#
# Each part unpacks into a temporary folder that is renamed into place only
# when complete, so an interrupted run leaves nothing half-unpacked and the
# next run redoes only what is missing.  The venv's packages come through pip
# (requirements-idf.txt pins them); nothing else is fetched.
set -eu
SHARED=${1:?usage: unpack-esp-idf-kit.sh SHARED_DIR KIT_DIR ESP32_DEPS_DIR}
KIT=${2:?usage: unpack-esp-idf-kit.sh SHARED_DIR KIT_DIR ESP32_DEPS_DIR}
DEPS=${3:?usage: unpack-esp-idf-kit.sh SHARED_DIR KIT_DIR ESP32_DEPS_DIR}
K=$SHARED/esp-idf
PYTHON=${PYTHON:-python3}

check() {  # file sha256
    if [ ! -f "$1" ]; then
        echo "error: $1 not found (SHARED_DIR=$SHARED); it is part of the ESP-IDF build kit" >&2
        exit 1
    fi
    echo "$2  $1" | sha256sum -c --quiet - || {
        echo "error: $1: sha256 mismatch, refusing to use it" >&2; exit 1; }
}

unpack() {  # tarball sha256 dest-dir folder-it-creates [strip: 1 to unpack the tarball's contents into folder]
    tarball=$1 sum=$2 dest=$3 top=$4 strip=${5:-0}
    [ -d "$dest/$top" ] && return 0
    check "$tarball" "$sum"
    mkdir -p "$dest"
    tmp=$(mktemp -d "$dest/.unpack.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "unpacking $(basename "$tarball") into $dest/$top"
    if [ "$strip" = 1 ]; then
        mkdir "$tmp/$top"
        tar -xf "$tarball" -C "$tmp/$top" --strip-components=1
    else
        tar -xf "$tarball" -C "$tmp"
    fi
    [ -d "$tmp/$top" ] || { echo "error: $tarball did not unpack to $top/" >&2; exit 1; }
    mv "$tmp/$top" "$dest/$top"
    rm -rf "$tmp"
    trap - EXIT
}

unpack "$K/xtensa-esp32s3-elf-newlib-cxx.tar.xz" \
    31738de1d8fe54e0bb0ade8cb59f5e0d67362072268d465e5a3822a5c8acd6bd "$KIT" xtensa-esp32s3-elf
unpack "$K/esp-idf-v5.2.2-s3.tar.xz" \
    d7e73e1120df76742967c57664987bba1ba41597f1f3e2a8e6575cbdf72cfb5b "$KIT" esp-idf-v5.2.2-s3
# ESP-IDF takes its version from version.txt, as in Espressif's release
# archives; without it, from `git describe` of the folder, which for a kit
# unpacked inside this repository is the repository's commit: every commit
# would change IDF_VER and recompile all of ESP-IDF.
[ -f "$KIT/esp-idf-v5.2.2-s3/version.txt" ] || echo v5.2.2 > "$KIT/esp-idf-v5.2.2-s3/version.txt"
unpack "$K/micropython-1.25.0-esp32.tar.xz" \
    e912d161c11d07792d07ed8ad56943667d758a044839dce3750d230f2f6fd114 "$DEPS" micropython-1.25.0
unpack "$K/idf-components.tar.xz" \
    065875640c0d555e01be1c0df66d949bfa1648a923cb6dfbb0a4fbcff2c20b01 "$DEPS" idf-components
# The component manager names an override_path component after its folder;
# usermod/llm links idf::espressif__esp-nn.
unpack "$SHARED/third_party/esp-nn-d45b843.tar.gz" \
    2c4034fe7de9396634f827f0f61ef837af0b5738b0642c26096371f9a3a17020 "$DEPS/idf-components" espressif__esp-nn 1

# idf.py checks its venv against this file, which install.sh would download.
constraints=espidf.constraints.v5.2.txt
if [ ! -f "$KIT/idf-tools/$constraints" ]; then
    check "$K/$constraints" 85ca078d781c90be73034911e5c147fe7020fbdd722e56c34debd63c95fef028
    mkdir -p "$KIT/idf-tools"
    cp "$K/$constraints" "$KIT/idf-tools/$constraints.part"
    mv "$KIT/idf-tools/$constraints.part" "$KIT/idf-tools/$constraints"
fi

if [ ! -f "$KIT/venv/.complete" ]; then
    req=$K/requirements-idf.txt
    check "$req" d64228ed36dfd14bc2b27ba8d42747d7576836f375d6c4e2bc734a288b5e57d9
    echo "creating the venv for idf.py in $KIT/venv (pip install -r $(basename "$req"))"
    rm -rf "$KIT/venv"
    "$PYTHON" -m venv "$KIT/venv" || {
        echo "error: $PYTHON -m venv failed; on Debian: apt-get install python3-venv" >&2; exit 1; }
    "$KIT/venv/bin/pip" install -q -r "$req"
    # Marks a complete venv: a pip run cut short leaves none, and is redone.
    touch "$KIT/venv/.complete"
fi
