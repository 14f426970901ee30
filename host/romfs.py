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

from host.progress import Bar

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


def file_record_head(name, size, pos):
    """The file record for a size-byte file name placed at image offset
    pos, up to its data, which then starts aligned: the record is these
    bytes followed by the file's."""
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
    payload += bytes([KIND_DATA]) + varuint(size, LEN_WIDTH)
    head = bytes([KIND_FILE]) + varuint(len(payload) + size, LEN_WIDTH) + payload
    assert (pos + len(head)) % ALIGN == 0
    return head


def file_record(name, data, pos):
    """The file record for name/data placed at image offset pos, with the
    data aligned.  Returns the record's bytes."""
    return file_record_head(name, len(data), pos) + data


def layout(files):
    """files: list of (name, size) for the root directory.  Returns the
    image's header, each file record's head, and the bytes that end the
    image; the image is these with each file's data after its head."""
    names = [n for n, _ in files]
    if len(set(names)) != len(names):
        raise ValueError("duplicate file names")
    for n in names:
        if not n or "/" in n:
            raise ValueError("bad file name %r" % n)
    start = len(ROMFS_HEADER) + LEN_WIDTH
    heads = []
    pos = start
    for name, size in files:
        heads.append(file_record_head(name, size, pos))
        pos += len(heads[-1]) + size
    # The whole record must have even length; a 3-byte padding record fixes parity.
    tail = bytes([KIND_PADDING, 1, 0]) if pos % 2 else b""
    header = ROMFS_HEADER + varuint(pos + len(tail) - start, LEN_WIDTH)
    return header, heads, tail


def build(files):
    """files: list of (name, bytes) for the root directory.  Returns the image."""
    header, heads, tail = layout([(n, len(d)) for n, d in files])
    return b"".join([header] + [h + d for h, (_, d) in zip(heads, files)] + [tail])


COPY_CHUNK = 1 << 20


def write_image(output, paths, progress=None):
    """Write the image of paths to output, streaming the files' data
    through; progress(done, total) is called with bytes of the image."""
    if os.path.isdir(output):
        raise IsADirectoryError("%s is a directory: give the path of the image to write" % output)
    sizes = [os.path.getsize(p) for p in paths]
    header, heads, tail = layout([(os.path.basename(p), n) for p, n in zip(paths, sizes)])
    total = len(header) + sum(len(h) for h in heads) + sum(sizes) + len(tail)
    tmp = output + ".part"
    try:
        with open(tmp, "wb") as out:
            out.write(header)
            for path, size, head in zip(paths, sizes, heads):
                out.write(head)
                copied = 0
                with open(path, "rb") as f:
                    while True:
                        chunk = f.read(COPY_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        copied += len(chunk)
                        if progress:
                            progress(out.tell(), total)
                if copied != size:
                    # The record's lengths were fixed from the size seen before.
                    raise ValueError("%s changed size while being read" % path)
            out.write(tail)
            if progress:
                progress(out.tell(), total)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host romfs", description=__doc__.splitlines()[0])
    ap.add_argument("output", help="image to write (name it .romfs so that mpremote deploys it as is)")
    ap.add_argument("files", nargs="+", help="files to put in the image's root")
    args = ap.parse_args(argv)
    try:
        with Bar("writing " + os.path.basename(args.output), unit="bytes") as bar:
            size = write_image(args.output, args.files, bar.update)
    except (OSError, ValueError) as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    print("wrote %s (%d bytes, %d files, data 16-byte aligned)" % (args.output, size, len(args.files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
