"""Talking to the emulated device from tests: mpremote, and the raw console."""
import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
import tty
from repo import REPO

# Every timeout here guards against a hang; none is a speed limit.  An emulator
# on a machine whose cores are busy runs many times slower than on an idle one,
# so no wait gives up before GUARD seconds, whatever a test asks for.
GUARD = float(os.environ.get("LLM_TEST_GUARD", "300"))


def mpremote(port, *args, timeout=60):
    # From the repository's top directory, so relative paths work as a user types them.
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args], cwd=REPO,
                       capture_output=True, text=True, timeout=max(timeout, GUARD))
    assert r.returncode == 0, f"mpremote {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


# Imports neither module on a stock firmware (nothing built in, frozen or installed).
STOCK_PROBE = ("for m in ('_llm', 'llm'):\n try:\n  __import__(m)\n  print('HAS', m)\n"
               " except ImportError:\n  print('NO', m)")


def assert_stock_firmware(port, timeout=60):
    """Neither _llm nor llm is importable on the device."""
    out = mpremote(port, "exec", STOCK_PROBE, timeout=timeout)
    assert "NO _llm" in out and "NO llm" in out, out


@contextlib.contextmanager
def running_emulator(elf, tmp_path_factory, name, **kwargs):
    """An emulator running elf (host/emulator.py; kwargs as emulator.start's), its
    log in a fresh temporary directory named name; yields its port, stops it after."""
    from host import emulator
    log = tmp_path_factory.mktemp(name) / "emulator.log"
    proc, port = emulator.start(elf, log=str(log), **kwargs)
    try:
        yield port
    finally:
        emulator.stop(proc)


@contextlib.contextmanager
def friendly_repl(port, settle=0.3):
    """The device's console at the friendly REPL's prompt (Ctrl-B), just
    soft-reset (Ctrl-D), as a Pty, the rest of the banner read; closed after."""
    con = Pty(port)
    try:
        con.write(b"\r\x02")
        con.read_until(b">>> ")
        # A soft reset: what an earlier test's mpremote exec left loaded (a
        # model, say) would otherwise hold the heap.
        con.write(b"\x04")
        con.read_until(b"soft reboot")
        con.read_until(b">>> ")
        con.read_for(settle)
        yield con
    finally:
        con.close()


class Pty:
    """The device's console as a raw terminal."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        # Bytes read past a marker: the next read_until or read_for gets them.
        self.pending = b""

    def close(self):
        os.close(self.fd)

    def write(self, data):
        os.write(self.fd, data)

    def read_until(self, marker, timeout=5.0):
        """Output up to and including marker; what came after it stays for the next read."""
        out, self.pending = self.pending, b""
        timeout = max(timeout, GUARD)
        deadline = time.monotonic() + timeout
        while marker not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                self.pending = out
                raise AssertionError(f"no {marker!r} within {timeout} s; got {out!r}")
            if select.select([self.fd], [], [], left)[0]:
                out += os.read(self.fd, 4096)
        end = out.index(marker) + len(marker)
        out, self.pending = out[:end], out[end:]
        return out

    def run(self, line, timeout=5.0, check=True):
        """Type a line at the friendly REPL; returns the output up to the next
        prompt, which must hold no traceback unless check is False (a setup
        step that failed would otherwise show up later as a NameError)."""
        self.write(line + b"\r")
        # Its echo first: a prompt that came late from an earlier line must
        # not pass for the end of this one.
        out = self.read_until(line, timeout)
        out += self.read_until(b">>> ", timeout)
        if check:
            assert b"Traceback" not in out, f"{line!r} failed:\n{out.decode(errors='replace')}"
        return out

    def interrupt(self, code, running_for=1.0, timeout=5.0):
        """Type code (with its \\r), check that it still runs running_for seconds
        later, then Ctrl-C: KeyboardInterrupt and the prompt within timeout."""
        self.write(code)
        self.read_until(code.split(b"\r")[0], timeout)  # its echo: what follows is its output
        assert b">>> " not in self.read_for(running_for), f"{code!r} ended before the Ctrl-C"
        self.write(b"\x03")
        out = self.read_until(b">>> ", timeout)
        assert b"KeyboardInterrupt" in out, out
        return out

    def read_for(self, seconds):
        out, self.pending = self.pending, b""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.fd], [], [], left)[0]:
                out += os.read(self.fd, 4096)
        return out


# A host firmware on a pseudo-terminal (pty.fork), as a user runs it.

@contextlib.contextmanager
def firmware_on_pty(firmware, code, bytes_as_written=False):
    """Run `firmware -c code` on a new terminal; yields the terminal's fd (the
    other end), and kills the firmware when done.  bytes_as_written: the
    terminal adds no \r to output and echoes nothing, and a Ctrl-C does not
    flush output not yet read."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the firmware on a terminal
        try:
            if bytes_as_written:
                attrs = termios.tcgetattr(0)
                attrs[1] &= ~termios.OPOST
                attrs[3] = (attrs[3] & ~termios.ECHO) | termios.NOFLSH
                termios.tcsetattr(0, termios.TCSANOW, attrs)
            os.execv(firmware, [firmware, "-c", code])
        finally:
            os._exit(127)
    try:
        yield fd
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)


def read_until(fd, marker, timeout, out=b"", since=0):
    """Read the terminal until marker shows up in out[since:]."""
    timeout = max(timeout, GUARD)
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


def type_line(fd, line, timeout=30, end=b"\r"):
    """Type a line at the prompt.  The unix port's input() prints its prompt
    and only then switches the terminal to raw mode, flushing input: wait for
    the switch (ICANON off) so that the line is not thrown away."""
    deadline = time.monotonic() + max(timeout, GUARD)
    while termios.tcgetattr(fd)[3] & termios.ICANON:
        if time.monotonic() > deadline:
            raise AssertionError("the terminal never went to raw mode for input()")
        time.sleep(0.01)
    os.write(fd, line + end)


def wait_cooked(fd, timeout=30):
    """Wait until the firmware has taken a typed line and put the terminal back
    in its ordinary mode, where Ctrl-C is SIGINT (in input()'s raw mode it is
    only a byte, and the switch back flushes it)."""
    deadline = time.monotonic() + max(timeout, GUARD)
    while not termios.tcgetattr(fd)[3] & termios.ICANON:
        if time.monotonic() > deadline:
            raise AssertionError("the terminal never left raw mode after input()")
        time.sleep(0.01)
