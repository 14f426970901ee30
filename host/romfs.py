"""Build a ROMFS image whose file data starts 16-byte aligned.

`mpremote romfs build` places file data wherever the records end, about
2 bytes past a 4-byte boundary, so float tensors read in place would be
misaligned.  ROMFS lets a file record carry padding records before its
data record, and lets a varuint be widened with leading 0x80 bytes: both
are used here to put every file's data on a 16-byte boundary of the image
(the image itself is mapped at an aligned address on the device).

    python3 -m host romfs OUTPUT.romfs FILE [FILE ...]
"""
import argparse
import os
import sys

ROMFS_HEADER = b"\xd2\xcd\x31"
KIND_PADDING, KIND_DATA, KIND_FILE = 1, 2, 5
ALIGN = 16
LEN_WIDTH = 5  # fixed-width lengths (up to 32 GiB) make offsets known up front


def varuint(value, width=None):
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.insert(0, 0x80 | (value & 0x7F))
        value >>= 7
    if width is not None:
        if len(out) > width:
            raise ValueError("value too large for a %d-byte varuint" % width)
        out = [0x80] * (width - len(out)) + out
    return bytes(out)


def file_record(name, data, pos):
    """The file record for name/data placed at image offset pos, with the
    data aligned.  Returns the record's bytes."""
    name_bytes = name.encode("utf-8")
    head_len = 1 + LEN_WIDTH  # kind byte + fixed-width length
    name_width = len(varuint(len(name_bytes)))
    data_pos = pos + head_len + name_width + len(name_bytes) + 1 + LEN_WIDTH
    need = -data_pos % ALIGN
    if need == 1:
        # A padding record takes at least 2 bytes: widen the name length instead.
        name_width += 1
        need = 0
    payload = varuint(len(name_bytes), name_width) + name_bytes
    if need:
        payload += bytes([KIND_PADDING]) + varuint(need - 2) + b"\0" * (need - 2)
    payload += bytes([KIND_DATA]) + varuint(len(data), LEN_WIDTH) + data
    record = bytes([KIND_FILE]) + varuint(len(payload), LEN_WIDTH) + payload
    assert (pos + len(record) - len(data)) % ALIGN == 0
    return record


def build(files):
    """files: list of (name, bytes) for the root directory.  Returns the image."""
    names = [n for n, _ in files]
    if len(set(names)) != len(names):
        raise ValueError("duplicate file names")
    for n in names:
        if not n or "/" in n:
            raise ValueError("bad file name %r" % n)
    body = bytearray()
    start = len(ROMFS_HEADER) + LEN_WIDTH
    for name, data in files:
        body += file_record(name, data, start + len(body))
    if (start + len(body)) % 2:
        # The whole record must have even length; a 3-byte padding record fixes parity.
        body += bytes([KIND_PADDING, 1, 0])
    return ROMFS_HEADER + varuint(len(body), LEN_WIDTH) + bytes(body)


def write_image(output, paths, progress=None):
    files = []
    for i, p in enumerate(paths):
        with open(p, "rb") as f:
            files.append((os.path.basename(p), f.read()))
        if progress:
            progress(i + 1, len(paths))
    image = build(files)
    tmp = output + ".part"
    with open(tmp, "wb") as f:
        f.write(image)
    os.replace(tmp, output)
    return len(image)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host romfs", description=__doc__.splitlines()[0])
    ap.add_argument("output", help="image to write (name it .romfs so that mpremote deploys it as is)")
    ap.add_argument("files", nargs="+", help="files to put in the image's root")
    args = ap.parse_args(argv)
    try:
        size = write_image(args.output, args.files)
    except (OSError, ValueError) as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    print("wrote %s (%d bytes, %d files, data 16-byte aligned)" % (args.output, size, len(args.files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
