"""Helpers to run the host firmware (build/micropython) from the tests.

    run(code_or_args, heapsize=None, input=None, timeout=...)
        One firmware process: a str is run as a program (``-c``), a list is the
        argument vector (e.g. ["-m", "llm", ckpt, "-z", tok]).  Returns the
        subprocess.CompletedProcess (stdout/stderr as bytes).

    snippet(code, data=None, ...)
        Runs a MicroPython program with a small prelude and returns a Snippet
        whose ``results`` maps names to the values the program reported with
        ``emit(name, value)``.  Values go through JSON; bytes-like values
        (bytes, bytearray, array, memoryview) are hex-dumped so that float
        buffers compare bit for bit (``f32(results["out"])``), and floats are
        sent as the bits of a double.  ``data`` maps names to bytes that the
        program reads with ``load(name)`` (a read-only bytes object).  The
        prelude also defines ``catch(fn, *args)`` -> ["ok", None] or
        [exception type name, message].  The program must run to its end: the
        prelude's closing marker is checked, as is the exit status (0).

The firmware is $LLM_FIRMWARE or <repo>/build/micropython; a missing firmware
fails the test (build it with ``make``).
"""

import json
import os
import struct
import subprocess
import tempfile

import numpy as np
import pytest

from host import firmware as host_firmware

from repo import REPO as ROOT
# A guard against a hung firmware, not a speed limit: the sanitizer build on a
# busy machine takes minutes for what the plain build does in seconds.
DEFAULT_TIMEOUT = int(os.environ.get("LLM_TEST_TIMEOUT", "900"))

_MARK = "\x1eR "
_DONE = "\x1eDONE"

PRELUDE = r'''
import sys as _sys
import json as _json
import struct as _struct
import binascii as _binascii
from array import array as _array

_DATA_DIR = %(data_dir)r


def load(name):
    with open(_DATA_DIR + "/" + name, "rb") as f:
        return f.read()


def _enc(v):
    if isinstance(v, (bytes, bytearray, _array, memoryview)):
        return {"__b__": _binascii.hexlify(bytes(v)).decode()}
    if isinstance(v, float):
        return {"__f__": _binascii.hexlify(_struct.pack("<d", v)).decode()}
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _enc(x) for k, x in v.items()}
    return v


def emit(name, value):
    _sys.stdout.write(%(mark)r + _json.dumps([name, _enc(value)]) + "\n")


def catch(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except Exception as e:
        return [type(e).__name__, str(e)]
    return ["ok", None]

'''


def firmware():
    """Path of the firmware; fails the calling test if it is missing."""
    path = host_firmware.path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("firmware %s not found or not executable: build it with `make` "
                    "(or set LLM_FIRMWARE)" % path, pytrace=False)
    return path


def run(code_or_args, heapsize=None, input=None, timeout=DEFAULT_TIMEOUT, cwd=None, env=None):
    """Run the firmware once; returns subprocess.CompletedProcess with bytes stdout/stderr."""
    cmd = [firmware()]
    if heapsize is not None:
        cmd += ["-X", "heapsize=%s" % heapsize]
    if isinstance(code_or_args, str):
        cmd += ["-c", code_or_args]
    else:
        cmd += list(code_or_args)
    if isinstance(input, str):
        input = input.encode("utf-8")
    return subprocess.run(cmd, input=input if input is not None else b"", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, cwd=cwd or ROOT, env=env)



def cli(*args, heapsize=None, timeout=DEFAULT_TIMEOUT):
    """The command line, `micropython -m llm ARGS...`; the firmware's own default heap
    unless heapsize is given."""
    return run(["-m", "llm"] + [str(a) for a in args], heapsize=heapsize, timeout=timeout)

def _dec(v):
    if isinstance(v, dict):
        if set(v) == {"__b__"}:
            return bytes.fromhex(v["__b__"])
        if set(v) == {"__f__"}:
            return struct.unpack("<d", bytes.fromhex(v["__f__"]))[0]
        return {k: _dec(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_dec(x) for x in v]
    return v


class Snippet:
    """Outcome of snippet(): results (name -> value), items (in order), proc, out, err."""

    def __init__(self, proc):
        self.proc = proc
        self.err = proc.stderr.decode("utf-8", "replace")
        self.results = {}
        self.items = []
        self.done = False
        other = []
        for line in proc.stdout.decode("utf-8", "surrogateescape").split("\n"):
            if line.startswith(_MARK):
                name, value = json.loads(line[len(_MARK):])
                value = _dec(value)
                self.items.append((name, value))
                if name in self.results:
                    raise AssertionError("snippet emitted %r twice" % name)
                self.results[name] = value
            elif line == _DONE:
                self.done = True
            else:
                other.append(line)
        self.out = "\n".join(other)

    def __getitem__(self, name):
        return self.results[name]

    def describe(self):
        return "exit status %s\n--- stdout (other lines) ---\n%s\n--- stderr ---\n%s" % (
            self.proc.returncode, self.out[-3000:], self.err[-3000:])


def snippet(code, data=None, heapsize=None, input=None, timeout=DEFAULT_TIMEOUT, check=True):
    """Run a MicroPython program with the prelude; see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="mpy-") as tmp:
        for name, blob in (data or {}).items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(bytes(blob))
        prog = PRELUDE % {"data_dir": tmp, "mark": _MARK} + code + "\nprint(%r)\n" % _DONE
        path = os.path.join(tmp, "snippet.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(prog)
        proc = run([path], heapsize=heapsize, input=input, timeout=timeout)
    res = Snippet(proc)
    if check:
        assert proc.returncode == 0 and res.done, "snippet failed: " + res.describe()
    return res


def f32(b):
    """float32 numpy array of little-endian bytes."""
    return np.frombuffer(bytes(b), dtype="<f4").copy()


def f32_bytes(a):
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def bits(a):
    """uint32 view of a float32 array, to compare bit for bit (and show where they differ)."""
    return np.ascontiguousarray(a, dtype="<f4").view("<u4")


def assert_bits_equal(got, want, what=""):
    got = np.asarray(got, dtype=np.float32)
    want = np.asarray(want, dtype=np.float32)
    assert got.shape == want.shape, "%s: shape %s != %s" % (what, got.shape, want.shape)
    g, w = bits(got), bits(want)
    bad = np.flatnonzero(g != w)
    assert bad.size == 0, "%s: %d of %d floats differ, first at %d: %r != %r" % (
        what, bad.size, g.size, bad[0], float(got.flat[bad[0]]), float(want.flat[bad[0]]))


# ---------------------------------------------------------------------------------------------
# The C library's float functions, element by element, for references that must match the
# firmware (which calls glibc's sinf/cosf) bit for bit.

def _libm():
    from host import reference
    if reference._LIBM is None:
        pytest.fail("the C math library is not loadable through ctypes", pytrace=False)
    return reference._LIBM


def libm_cosf(x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    lib = _libm()
    return np.array([lib.cosf(float(v)) for v in x.reshape(-1)], np.float32).reshape(x.shape)


def libm_sinf(x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    lib = _libm()
    return np.array([lib.sinf(float(v)) for v in x.reshape(-1)], np.float32).reshape(x.shape)
