#!/usr/bin/env python3
"""Start (or stop) the emulated device: MicroPython's qemu port on mps2-an385.

    python3 host/emulator.py [--elf build/qemu/firmware.elf] [--pidfile F] [--romfs IMG]
    python3 host/emulator.py --stop [--pidfile F]

Starting runs qemu-system-arm in the background, detached from this script,
with the board's UART on a pseudo-terminal, and prints ``PORT=/dev/pts/N``.
Talk to it with ``mpremote connect /dev/pts/N ...``. ``--romfs IMG`` preloads
a ROMFS image into the board's ROMFS partition, as if it had been deployed
with ``mpremote romfs deploy`` (the image is mounted at /rom at boot).

The firmware is built with ``make qemu-firmware``; this script builds nothing.
Tests import it: ``start(elf) -> (proc, pty)`` and ``stop(proc)``.
Stdlib only.
"""

import argparse
import os
import re
import signal
import struct
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ELF = os.path.join(REPO, "build", "qemu", "firmware.elf")
DEFAULT_PIDFILE = os.path.join(REPO, "build", "qemu", "emulator.pid")
QEMU = "qemu-system-arm"
PTY_RE = re.compile(rb"char device redirected to (/dev/[^ \r\n]+)")


def elf_symbols(elf, names):
    """Return {name: value} for the given symbols of a 32-bit little-endian ELF."""
    with open(elf, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise ValueError(f"{elf}: not a 32-bit little-endian ELF file")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x2E)
    sections = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    found = {}
    for sh in sections:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]  # sh_link
        for off in range(sh[4], sh[4] + sh[5], 16):
            st_name, st_value = struct.unpack_from("<II", data, off)
            start = strtab[4] + st_name
            name = data[start:data.index(b"\0", start)].decode()
            if name in names:
                found[name] = st_value
    return found


def romfs_region(elf):
    """(address, size) of the ROMFS partition of the firmware."""
    syms = elf_symbols(elf, {"_board_romfs_start", "_board_romfs_size"})
    if len(syms) != 2:
        raise ValueError(f"{elf}: no ROMFS partition symbols (not a boards/qemu firmware?)")
    return syms["_board_romfs_start"], syms["_board_romfs_size"]


def qemu_command(elf, romfs=None):
    cmd = [QEMU, "-machine", "mps2-an385", "-nographic", "-monitor", "null",
           "-semihosting", "-serial", "pty", "-kernel", elf]
    if romfs:
        addr, size = romfs_region(elf)
        if os.path.getsize(romfs) > size:
            raise ValueError(f"{romfs}: larger than the ROMFS partition ({size} bytes)")
        cmd += ["-device", f"loader,file={os.path.abspath(romfs)},addr={addr:#x},force-raw=on"]
    return cmd


def start(elf=DEFAULT_ELF, romfs=None, log=None, timeout=10.0, detach=False):
    """Start qemu; return (proc, pty_path) once the serial pty exists.

    qemu's own output goes to the file `log` (default: <elf dir>/emulator.log).
    With detach=True qemu runs in its own session, so it outlives the caller.
    """
    if not os.path.isfile(elf):
        raise FileNotFoundError(f"{elf} not found (build it with: make qemu-firmware)")
    log = log or os.path.join(os.path.dirname(os.path.abspath(elf)), "emulator.log")
    with open(log, "wb") as logf:
        proc = subprocess.Popen(qemu_command(elf, romfs), stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT, start_new_session=detach)
    deadline = time.monotonic() + timeout
    while True:
        with open(log, "rb") as f:
            m = PTY_RE.search(f.read())
        if m:
            return proc, m.group(1).decode()
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            with open(log, "rb") as f:
                out = f.read().decode(errors="replace")
            raise RuntimeError(f"qemu did not open a serial pty; its output:\n{out}")
        time.sleep(0.05)


def stop(proc, timeout=5.0):
    """Stop a qemu started by start()."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(pidfile):
    try:
        with open(pidfile) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _is_qemu(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return QEMU.encode() in f.read()
    except OSError:
        return True  # no /proc: trust the pid file


def stop_pidfile(pidfile):
    pid = _read_pid(pidfile)
    if pid is None:
        print(f"no emulator pid in {pidfile}")
        return 1
    if _pid_alive(pid) and _is_qemu(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _pid_alive(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        print(f"stopped emulator (pid {pid})")
    else:
        print(f"emulator (pid {pid}) was not running")
    os.remove(pidfile)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--elf", default=DEFAULT_ELF, help="firmware (default: %(default)s)")
    ap.add_argument("--pidfile", default=DEFAULT_PIDFILE, help="pid file (default: %(default)s)")
    ap.add_argument("--romfs", help="ROMFS image to preload into the ROMFS partition")
    ap.add_argument("--stop", action="store_true", help="stop the emulator named by the pid file")
    args = ap.parse_args(argv)

    if args.stop:
        return stop_pidfile(args.pidfile)

    pid = _read_pid(args.pidfile)
    if pid is not None and _pid_alive(pid) and _is_qemu(pid):
        print(f"emulator already running (pid {pid}); stop it with: "
              f"{sys.argv[0]} --stop --pidfile {args.pidfile}", file=sys.stderr)
        return 1
    try:
        proc, pty = start(args.elf, romfs=args.romfs, detach=True)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(args.pidfile)), exist_ok=True)
    with open(args.pidfile, "w") as f:
        f.write(f"{proc.pid}\n")
    print(f"PORT={pty}")
    print(f"emulator running (pid {proc.pid}); connect with: mpremote connect {pty} repl")
    print(f"stop it with: {sys.executable} {os.path.relpath(os.path.abspath(__file__))} --stop"
          + ("" if args.pidfile == DEFAULT_PIDFILE else f" --pidfile {args.pidfile}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
