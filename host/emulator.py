#!/usr/bin/env python3
"""Start (or stop) an emulated device: MicroPython's qemu port on mps2-an385
(Cortex-M3, boards/qemu), or with --s3 the s3sim port on qemu's `sim`
machine with the ESP32-S3 core (boards/s3sim).

    python3 host/emulator.py [--elf build/qemu/firmware.elf] [--pidfile F] [--romfs IMG]
    python3 host/emulator.py --s3 [--qemu QEMU] [--elf build/s3sim/firmware.elf] [--pidfile F] [--romfs IMG]
    python3 host/emulator.py --s3 --run SCRIPT.py [--romfs IMG]
    python3 host/emulator.py --stop [--pidfile F]

Starting runs qemu-system-arm in the background, detached from this script,
with the board's UART on a pseudo-terminal, and prints ``PORT=/dev/pts/N``.
Talk to it with ``mpremote connect /dev/pts/N ...``. ``--romfs IMG`` preloads
a ROMFS image into the board's ROMFS partition, as if it had been deployed
with ``mpremote romfs deploy`` (the image is mounted at /rom at boot).

``--run`` starts a fresh emulator, runs the script through mpremote, prints
its output and stops the emulator.

The firmware is built with ``make qemu-firmware`` (``make s3-firmware``); this
script builds nothing.  Tests import it: ``start(elf) -> (proc, pty)`` (with
``s3=True, qemu=...`` for the S3 core) and ``stop(proc)``.
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

try:
    from host.paths import REPO, S3_QEMU
except ImportError:  # run as a script: python3 host/emulator.py
    from paths import REPO, S3_QEMU
DEFAULT_ELF = os.path.join(REPO, "build", "qemu", "firmware.elf")
DEFAULT_PIDFILE = os.path.join(REPO, "build", "qemu", "emulator.pid")
QEMU = "qemu-system-arm"
S3_DEFAULT_ELF = os.path.join(REPO, "build", "s3sim", "firmware.elf")
S3_DEFAULT_PIDFILE = os.path.join(REPO, "build", "s3sim", "emulator.pid")
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


def qemu_command(elf, romfs=None, s3=False, qemu=None):
    if s3:
        # The sim machine routes the semihosting console to its first serial
        # device; the host clock is handed over in _board_boot_time.
        cmd = [qemu or S3_QEMU, "-M", "sim", "-cpu", "esp32s3", "-semihosting", "-nographic",
               "-monitor", "none", "-serial", "pty", "-kernel", elf]
        boot_time = elf_symbols(elf, {"_board_boot_time"}).get("_board_boot_time")
        if boot_time is not None:
            # A raw file, as the loader's data= option did not reach the RAM.
            clock = os.path.join(os.path.dirname(os.path.abspath(elf)), "boot-time.bin")
            with open(clock, "wb") as f:
                f.write(struct.pack("<Q", int(time.time())))
            cmd += ["-device", f"loader,file={clock},addr={boot_time:#x},force-raw=on"]
    else:
        cmd = [qemu or QEMU, "-machine", "mps2-an385", "-nographic", "-monitor", "null",
               "-semihosting", "-serial", "pty", "-kernel", elf]
    if romfs:
        addr, size = romfs_region(elf)
        if os.path.getsize(romfs) > size:
            raise ValueError(f"{romfs}: larger than the ROMFS partition ({size} bytes)")
        cmd += ["-device", f"loader,file={os.path.abspath(romfs)},addr={addr:#x},force-raw=on"]
    return cmd


def start(elf=DEFAULT_ELF, romfs=None, log=None, timeout=10.0, detach=False, s3=False, qemu=None):
    """Start qemu; return (proc, pty_path) once the serial pty exists.

    qemu's own output goes to the file `log` (default: <elf dir>/emulator.log).
    With detach=True qemu runs in its own session, so it outlives the caller.
    """
    if not os.path.isfile(elf):
        raise FileNotFoundError(f"{elf} not found (build it with: make {'s3-firmware' if s3 else 'qemu-firmware'})")
    log = log or os.path.join(os.path.dirname(os.path.abspath(elf)), "emulator.log")
    with open(log, "wb") as logf:
        proc = subprocess.Popen(qemu_command(elf, romfs, s3=s3, qemu=qemu), stdin=subprocess.DEVNULL,
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
            return b"qemu-system-" in f.read()
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


def run_script(args):
    """--run: a fresh emulator, the script through mpremote, then stop."""
    try:
        proc, pty = start(args.elf, romfs=args.romfs, s3=args.s3, qemu=args.qemu,
                          log=os.path.join(os.path.dirname(os.path.abspath(args.elf)), "run.log"))
    except (OSError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        return subprocess.call([sys.executable, "-m", "mpremote", "connect", pty, "run", args.run])
    finally:
        stop(proc)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--s3", action="store_true", help="the emulated ESP32-S3 core (boards/s3sim)")
    ap.add_argument("--qemu", help="qemu binary (default: qemu-system-arm, or with --s3 " + S3_QEMU + ")")
    ap.add_argument("--elf", help=f"firmware (default: {DEFAULT_ELF}, with --s3 {S3_DEFAULT_ELF})")
    ap.add_argument("--pidfile", help=f"pid file (default: {DEFAULT_PIDFILE}, with --s3 {S3_DEFAULT_PIDFILE})")
    ap.add_argument("--run", metavar="SCRIPT", help="run SCRIPT on a fresh emulator, print its output, stop")
    ap.add_argument("--romfs", help="ROMFS image to preload into the ROMFS partition")
    ap.add_argument("--stop", action="store_true", help="stop the emulator named by the pid file")
    args = ap.parse_args(argv)
    args.elf = args.elf or (S3_DEFAULT_ELF if args.s3 else DEFAULT_ELF)
    default_pidfile = S3_DEFAULT_PIDFILE if args.s3 else DEFAULT_PIDFILE
    args.pidfile = args.pidfile or default_pidfile

    if args.run:
        return run_script(args)

    if args.stop:
        return stop_pidfile(args.pidfile)

    pid = _read_pid(args.pidfile)
    if pid is not None and _pid_alive(pid) and _is_qemu(pid):
        print(f"emulator already running (pid {pid}); stop it with: "
              f"{sys.argv[0]} --stop --pidfile {args.pidfile}", file=sys.stderr)
        return 1
    try:
        proc, pty = start(args.elf, romfs=args.romfs, detach=True, s3=args.s3, qemu=args.qemu)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(args.pidfile)), exist_ok=True)
    with open(args.pidfile, "w") as f:
        f.write(f"{proc.pid}\n")
    print(f"PORT={pty}")
    print(f"emulator running (pid {proc.pid}); connect with: mpremote connect {pty} repl")
    print(f"stop it with: {sys.executable} {os.path.relpath(os.path.abspath(__file__))} --stop"
          + (" --s3" if args.s3 else "")
          + ("" if args.pidfile == default_pidfile else f" --pidfile {args.pidfile}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
