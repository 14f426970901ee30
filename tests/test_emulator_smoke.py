"""Smoke test of the emulated device (qemu mps2-an385 running boards/qemu).

Builds the firmware with `make qemu-firmware`, starts qemu through
host/emulator.py and talks to it with mpremote and through the raw pty:
REPL works, a ROMFS image deployed with `mpremote romfs deploy` is mounted at
/rom after a soft reset, the littlefs filesystem at / keeps files across a
soft reset, and Ctrl-C interrupts a running loop.

Needs arm-none-eabi-gcc, qemu-system-arm and mpremote; fails (not skips) when
they are missing.
"""

import hashlib
import os
import subprocess
import sys

import pytest

from host import emulator  # the repo root is on sys.path (conftest.py)
from devicetools import friendly_repl, mpremote, running_emulator
from repo import REPO, make_ok


ELF = os.path.join(REPO, "build", "qemu", "firmware.elf")


@pytest.fixture(scope="session")
def qemu_elf():
    make_ok("qemu-firmware")
    assert os.path.isfile(ELF), f"{ELF} was not built"
    return ELF


@pytest.fixture(scope="module")
def device(qemu_elf, tmp_path_factory):
    with running_emulator(qemu_elf, tmp_path_factory, "qemu") as port:
        yield port


def test_exec_and_config(device):
    assert mpremote(device, "exec", "print(1+1)").strip() == "2"
    out = mpremote(device, "exec", (
        "import gc, hashlib, os, io, sys, time, vfs, binascii\n"
        "gc.collect()\n"
        "print(gc.mem_free() + gc.mem_alloc())\n"
        "print(binascii.hexlify(hashlib.sha256(b'abc').digest()).decode())\n"
        "print(sys.implementation.version[:2], vfs.rom_ioctl(1), len(vfs.rom_ioctl(2, 0)))\n"
        "t = time.ticks_ms(); time.sleep_ms(200); print(time.ticks_diff(time.ticks_ms(), t))\n"
    )).split()
    heap = int(out[0])
    assert 240_000 <= heap <= 256_000, heap  # ~250 KB, like a no-PSRAM ESP32-S3
    assert out[1] == hashlib.sha256(b"abc").hexdigest()
    assert out[2:5] == ["(1,", "25)", "1"]
    assert int(out[5]) >= 1024 * 1024  # ROMFS partition size
    # A sleep never ends early; how much later it ends depends on the load
    # on the machine running the emulator, so there is no upper bound.
    assert int(out[6]) >= 190


def test_romfs_deploy_and_filesystem(device, tmp_path):
    src = tmp_path / "romfs"
    (src / "lib").mkdir(parents=True)
    payload = os.urandom(5000)
    (src / "data.bin").write_bytes(payload)
    (src / "lib" / "romfs_mod.py").write_text("VALUE = 'from rom'\n")
    img = tmp_path / "img.romfs"
    subprocess.run([sys.executable, "-m", "mpremote", "romfs", "--no-mpy", "-o", str(img),
                    "build", str(src)], check=True, capture_output=True, timeout=60)
    assert img.read_bytes()[:3] == b"\xd2\xcd\x31"

    out = mpremote(device, "romfs", "deploy", str(img))
    assert "ROMFS image deployed" in out

    # A file on the littlefs filesystem at /, kept across the soft reset too.
    local = tmp_path / "note.txt"
    local.write_text("kept\n")
    mpremote(device, "cp", str(local), ":note.txt")

    out = mpremote(device, "soft-reset", "exec", (
        "import os, sys, hashlib, binascii, romfs_mod\n"
        "print(sorted(os.listdir('/rom')))\n"
        "print(binascii.hexlify(hashlib.sha256(open('/rom/data.bin', 'rb').read()).digest()).decode())\n"
        "print(romfs_mod.VALUE.replace(' ', '_'), '/rom/lib' in sys.path)\n"
        "print(open('/note.txt').read().strip())\n"
    )).split()
    assert out == ["['data.bin',", "'lib']", hashlib.sha256(payload).hexdigest(),
                   "from_rom", "True", "kept"]


def test_ctrl_c_interrupts_running_code(device):
    with friendly_repl(device, settle=0.2) as con:
        for code in (b"while True: pass\r\r", b"import time; time.sleep(60)\r"):
            con.interrupt(code)
        assert b"42\r\n>>> " in con.run(b"print(6 * 7)")


def test_preloaded_romfs(qemu_elf, tmp_path):
    src = tmp_path / "romfs"
    src.mkdir()
    (src / "hello.txt").write_text("preloaded\n")
    img = tmp_path / "img.romfs"
    subprocess.run([sys.executable, "-m", "mpremote", "romfs", "--no-mpy", "-o", str(img),
                    "build", str(src)], check=True, capture_output=True, timeout=60)
    proc, pty = emulator.start(qemu_elf, romfs=str(img), log=str(tmp_path / "emulator.log"))
    try:
        out = mpremote(pty, "exec", "print(open('/rom/hello.txt').read())")
        assert out.strip() == "preloaded"
    finally:
        emulator.stop(proc)
