#!/bin/sh
# Unpack the ESP32-S3 test tools (compiler, emulated core) and esp-nn from the
# project's shared folder into DEST, each checked by sha256 first.  Nothing is
# downloaded: these are test tools; users build for a board with ESP-IDF.
#
#   sh host/unpack-s3-tools.sh SHARED_DIR DEST
#
# The compiler's sum is that of the tarball in shared/ (its README still gives the
# sum of an earlier build).
#
# Each tarball unpacks into a temporary folder that is renamed into place only
# when it is complete, so an interrupted run leaves nothing half-unpacked.
set -eu
SHARED=${1:?usage: unpack-s3-tools.sh SHARED_DIR DEST}
DEST=${2:?usage: unpack-s3-tools.sh SHARED_DIR DEST}

unpack() {  # tarball sha256 folder-it-creates
    tarball=$1 sum=$2 top=$3
    [ -d "$DEST/$top" ] && return 0
    if [ ! -f "$tarball" ]; then
        echo "error: $tarball not found (SHARED_DIR=$SHARED); it holds the S3 test tools" >&2
        exit 1
    fi
    echo "$sum  $tarball" | sha256sum -c --quiet - || {
        echo "error: $tarball: sha256 mismatch, refusing to unpack it" >&2; exit 1; }
    mkdir -p "$DEST"
    tmp=$(mktemp -d "$DEST/.unpack.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "unpacking $(basename "$tarball") into $DEST/$top"
    tar -xf "$tarball" -C "$tmp"
    src=$tmp/$top
    [ -d "$src" ] || src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    mv "$src" "$DEST/$top"
    rm -rf "$tmp"
    trap - EXIT
}

unpack "$SHARED/toolchains/xtensa-esp32s3-elf.tar.xz" \
    0146c21a079652a1db6c1d805f21c2636b04e9cc17295be15fa0bea7c3ebc8d1 xtensa-esp32s3-elf
unpack "$SHARED/toolchains/qemu-xtensa-esp32s3.tar.xz" \
    4ec022706e1abc45e4a5afe5010b0b13240a64b440102d8aedb4636079daa2e5 qemu-xtensa-esp32s3
unpack "$SHARED/third_party/esp-nn-d45b843.tar.gz" \
    2c4034fe7de9396634f827f0f61ef837af0b5738b0642c26096371f9a3a17020 esp-nn
