# Getting file bytes without copying them where the platform allows it.
import os

import _llm


EISDIR = 21


def printable(path: str) -> str:
    """path as printable ASCII: MicroPython can neither print nor open a str
    that is not valid UTF-8, which a command-line argument can be."""
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else "\\x%02x" % b for b in path.encode())


def file_size(path: str) -> int:
    try:
        st = os.stat(path)
    except UnicodeError:
        raise ValueError("%s: the path is not valid UTF-8, which MicroPython cannot open; rename the file"
                         % printable(path))
    except OSError as e:
        # MicroPython's OSError does not name the file; say which one.
        raise OSError(e.args[0], "cannot open %s (errno %s)" % (path, e.args[0]))
    if st[0] & 0o170000 == 0o040000:
        raise OSError(EISDIR, "%s is a directory, not a file" % path)
    return st[6]


def open_buffer(path: str) -> tuple:
    """Return (buffer, where) for the whole file at path.

    where is "mapped" when the bytes stay outside the heap: a memory map of a
    host file on the unix firmware, or the file's bytes in place on a ROMFS
    mount (flash on the chip).  Otherwise the file is read into the heap.
    """
    f = open(path, "rb")
    try:
        memoryview(f)  # ROMFS files expose their bytes in place
        return f, "mapped"
    except TypeError:
        pass
    mapped = getattr(_llm, "MappedFile", None)
    if mapped is not None:
        f.close()
        return mapped(path), "mapped"
    try:
        size = file_size(path)
        # bytes, not a bytearray: _llm uses read-only data in place, and
        # would copy writable data that Python could change under it.
        buf = f.read(size)
        if len(buf) != size:
            raise ValueError("%s: short read" % path)
        return buf, "heap"
    finally:
        f.close()

