"""Talking to the emulated device from tests: mpremote, and the raw console."""
import os
import select
import subprocess
import sys
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
