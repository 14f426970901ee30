"""Talking to the emulated device from tests: mpremote, and the raw console."""
import os
import select
import subprocess
import sys
import termios
import time
import tty
from repo import REPO




def mpremote(port, *args, timeout=60):
    # From the repository's top directory, so relative paths work as a user types them.
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args], cwd=REPO,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"mpremote {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


class Pty:
    """The device's console as a raw terminal."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)

    def close(self):
        os.close(self.fd)

    def write(self, data):
        os.write(self.fd, data)

    def read_until(self, marker, timeout=5.0):
        out = b""
        deadline = time.monotonic() + timeout
        while marker not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} within {timeout} s; got {out!r}")
            if select.select([self.fd], [], [], left)[0]:
                out += os.read(self.fd, 4096)
        return out

    def read_for(self, seconds):
        out = b""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.fd], [], [], left)[0]:
                out += os.read(self.fd, 4096)
        return out


# A host firmware on a pseudo-terminal (pty.fork), as a user runs it.

def read_until(fd, marker, timeout, out=b"", since=0):
    """Read the terminal until marker shows up in out[since:]."""
    deadline = time.monotonic() + timeout
    while marker not in out[since:]:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError("no %r within %s s; got %r" % (marker, timeout, out[-500:]))
        try:
            out += os.read(fd, 65536)
        except OSError:
            break
    return out


def type_line(fd, line, timeout=30):
    """Type a line at the prompt.  The unix port's input() prints its prompt
    and only then switches the terminal to raw mode, flushing input: wait for
    the switch (ICANON off) so that the line is not thrown away."""
    deadline = time.monotonic() + timeout
    while termios.tcgetattr(fd)[3] & termios.ICANON:
        if time.monotonic() > deadline:
            raise AssertionError("the terminal never went to raw mode for input()")
        time.sleep(0.01)
    os.write(fd, line + b"\r")
