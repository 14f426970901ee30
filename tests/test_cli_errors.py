"""Messages of `micropython -m llm` for what a user can get wrong on the
command line: a directory instead of a file, a path that is not UTF-8, and a
reader that leaves early (`... | head`)."""
import os
import subprocess

import pytest

import mpy


@pytest.fixture(scope="module")
def s260(firmware, stories260k_path, tok512_path):
    return stories260k_path, tok512_path


def test_a_directory_is_named_in_the_message(s260, tmp_path):
    d = str(tmp_path)
    for args in ([d, "-z", s260[1]], [s260[0], "-z", d], [d]):
        p = mpy.cli(*args)
        assert p.returncode == 1 and p.stdout == b""
        assert p.stderr == ("error: %s is a directory, not a file\n" % d).encode(), p.stderr
    r = mpy.snippet("import llm\nemit('e', catch(llm.load, %r, %r))" % (d, s260[1]))
    assert r["e"][0] == "OSError" and d + " is a directory, not a file" in r["e"][1], r["e"]


def test_a_path_that_is_not_utf8_is_shown_escaped(s260, tmp_path):
    bad = os.fsencode(str(tmp_path)) + b"/story\xff\\.bin"
    shown = (str(tmp_path) + "/story\\xff\\x5c.bin").encode()
    for args in ([bad, "-z", s260[1]], [s260[0], "-z", bad]):
        p = mpy.run([b"-m", b"llm"] + [a if isinstance(a, bytes) else a.encode() for a in args])
        assert p.returncode == 1 and p.stdout == b""
        assert p.stderr == b"error: " + shown + b": the path is not valid UTF-8, which MicroPython cannot open;" \
                           b" rename the file\n", p.stderr


def test_a_reader_that_left_gets_no_traceback(s260):
    # The pipe's reading end is closed before the firmware writes: its
    # first write fails with EPIPE (MicroPython ignores SIGPIPE).
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([mpy.firmware(), "-m", "llm", s260[0], "-z", s260[1], "-n", "40", "-t", "0"],
                           stdout=w, stderr=subprocess.PIPE, timeout=mpy.DEFAULT_TIMEOUT)
    finally:
        os.close(w)
    assert p.returncode == 0 and p.stderr == b"", p.stderr
