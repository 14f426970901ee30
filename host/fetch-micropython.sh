#!/bin/sh
# Fetch MicroPython 1.25.0 from Debian's source package, pinned by sha256.
# The mirror is read from this machine's own apt configuration, so no host name
# is baked in here; the pool path is the same on every Debian mirror.
# Usage: host/fetch-micropython.sh DEST_DIR
set -eu
dest=${1:?usage: $0 DEST_DIR}
tarball=micropython_1.25.0+ds.orig.tar.xz
sha256=7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea
pool=pool/main/m/micropython

mkdir -p "$dest"
cd "$dest"
if [ -d micropython-1.25.0/py ]; then exit 0; fi

if ! echo "$sha256  $tarball" | sha256sum -c --status 2>/dev/null; then
    mirrors=$( (cat /etc/apt/sources.list 2>/dev/null | awk '$1 ~ /^deb/ {print $2}';
                cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}';
                cat /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 ~ /^deb/ {print $2}') |
              grep -v -- '-security' | sed 's,/*$,,' | awk '!seen[$0]++')
    [ -n "$mirrors" ] || { echo "error: no Debian mirror found in the apt configuration;" \
        "download $tarball yourself or pass MICROPY_DIR=<your micropython checkout>" >&2; exit 1; }
    ok=
    for m in $mirrors; do
        echo "fetching $tarball from $m"
        if curl -fL --retry 3 --progress-bar -o "$tarball.part" "$m/$pool/$tarball"; then ok=1; break; fi
    done
    [ -n "$ok" ] || { rm -f "$tarball.part"; echo "error: could not download $tarball" >&2; exit 1; }
    if ! echo "$sha256  $tarball.part" | sha256sum -c --status; then
        rm -f "$tarball.part"
        echo "error: sha256 of $tarball does not match $sha256" >&2; exit 1
    fi
    mv "$tarball.part" "$tarball"
fi

rm -rf micropython-1.25.0.part && mkdir micropython-1.25.0.part
tar -xJf "$tarball" -C micropython-1.25.0.part --strip-components=1
# The Debian tarball strips the micropython-lib submodule; freezing needs this file to exist.
mkdir -p micropython-1.25.0.part/lib/micropython-lib
[ -f micropython-1.25.0.part/lib/micropython-lib/README.md ] || \
    echo "placeholder: micropython-lib is not shipped in Debian's tarball" > micropython-1.25.0.part/lib/micropython-lib/README.md
mv micropython-1.25.0.part micropython-1.25.0
echo "MicroPython 1.25.0 ready in $dest/micropython-1.25.0"
