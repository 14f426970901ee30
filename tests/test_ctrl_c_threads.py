"""Ctrl-C while two threads generate (issue 18, defect 1).

The unix port raises KeyboardInterrupt from its SIGINT handler by a non-local
jump out of whatever C code the main thread is running, also out of the
hand-off to the worker thread.  This test interrupts a two-thread generation
of a dim-512 model (big enough that every matmul is split) over a hundred
times, at varied moments, and then generates again.  A hang fails through the
generous overall timeout, never through a timing bound on the work itself.
"""
import os
import random
import select
import signal
import subprocess
import time

import pytest

import mpy
from host import llama2

INTERRUPTS = 120
HANG_TIMEOUT = 900  # seconds for the whole run: only a hang takes that long

SCRIPT = r"""
import sys, llm, _llm
m = llm.load(%(model)r, %(tok)r)
assert _llm.threads(2) == 2
caught = 0
while caught < %(n)d:
    try:
        sys.stdout.write("go\n")
        while True:
            m.generate("", steps=256, temperature=0.0)
    except KeyboardInterrupt:
        caught += 1
        sys.stdout.write("int %%d\n" %% caught)
text = m.generate("", steps=24, temperature=0.0)
again = m.generate("", steps=24, temperature=0.0)
sys.stdout.write("done %%d %%d\n" %% (len(text), text == again))
"""


@pytest.fixture(scope="module")
def dim512(tmp_path_factory):
    d = tmp_path_factory.mktemp("ctrlc")
    llama2.random_checkpoint(str(d / "m.bin"), 512, 1024, 2, 8, 8, 512, 256)
    pieces, scores = llama2.random_tokenizer(512)
    llama2.write_tokenizer(str(d / "t.bin"), pieces, scores)
    return str(d / "m.bin"), str(d / "t.bin")


def _read_line(proc, buf, deadline):
    """The next line of proc's stdout, or None at EOF or when the deadline passes."""
    while b"\n" not in buf[0]:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            return None
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            return None
        buf[0] += chunk
    line, buf[0] = buf[0].split(b"\n", 1)
    return line.decode()


def test_ctrl_c_two_threads_many_times_then_generate(dim512):
    model, tok = dim512
    proc = subprocess.Popen([mpy.firmware(), "-c", SCRIPT % {"model": model, "tok": tok, "n": INTERRUPTS}],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rng = random.Random(18)
    deadline = time.monotonic() + HANG_TIMEOUT
    buf = [b""]
    seen = []
    try:
        for i in range(INTERRUPTS):
            line = _read_line(proc, buf, deadline)
            assert line == "go", "after %d interrupts: %r (%r)" % (i, line, seen[-3:])
            # Land anywhere: at once, inside the first token, or a few tokens in.
            time.sleep(rng.choice([0.0, rng.uniform(0, 0.002), rng.uniform(0, 0.05)]))
            proc.send_signal(signal.SIGINT)
            line = _read_line(proc, buf, deadline)
            seen.append(line)
            assert line == "int %d" % (i + 1), "interrupt %d: %r (hang or crash)" % (i + 1, line)
        line = _read_line(proc, buf, deadline)
        assert line is not None and line.startswith("done "), "final generation: %r" % line
        n, same = line.split()[1:]
        assert int(n) > 0 and same == "1"
        assert proc.wait(timeout=max(1, deadline - time.monotonic())) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = proc.stderr.read().decode(errors="replace")
        proc.stdout.close()
        proc.stderr.close()
    assert "Traceback" not in err, err
