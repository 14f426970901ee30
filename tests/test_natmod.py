"""The _llm module as a native .mpy on stock MicroPython (usermod/natmod/).

Builds, through the top Makefile's targets (usermod/natmod/natmod.mk):
`natmod-all` (build/natmod/{x64,armv7m}/_llm.mpy), `stock-unix` (MicroPython's
unix port without _llm and with nothing frozen) and `stock-qemu` (the emulated
MCU, boards/qemu, likewise without _llm and without the frozen llm package).
Then:

- x64: the stock unix port, with _llm.mpy and app/ on MICROPYPATH, prints
  llama2.c's golden outputs byte for byte and generates the host firmware's
  greedy tokens for an int8 .llm file; the module's API and error messages
  are the firmware module's.
- armv7m: on the emulated MCU, `mpremote mip install` of the package files
  puts llm into /lib/llm and _llm.mpy into /lib; a model deployed into ROMFS
  with host.deploy then generates, at the REPL, the host firmware's tokens.

Needs gcc, arm-none-eabi-gcc, qemu-system-arm, mpremote, pyelftools and ar
(pip); fails (not skips) when they are missing.
"""
import json
import os
import subprocess
import sys

import pytest

import devicetools
from repo import REPO, make_ok

BUILD = os.path.join(REPO, "build")
STOCK_UNIX = os.path.join(BUILD, "unix-stock", "micropython")
STOCK_QEMU = os.path.join(BUILD, "qemu-stock", "firmware.elf")
APP = os.path.join(REPO, "app")
ARCH_CODE = {"x64": 2, "armv7m": 5}  # MP_NATIVE_ARCH_* of py/persistentcode.h


def natmod_dir(arch):
    return os.path.join(BUILD, "natmod", arch)


def make(*targets):
    make_ok(*targets, jobs=min(4, os.cpu_count() or 1))


@pytest.fixture(scope="module")
def built():
    make("natmod-all", "stock-unix", "stock-qemu")
    for path in (STOCK_UNIX, STOCK_QEMU) + tuple(os.path.join(natmod_dir(a), "_llm.mpy") for a in ARCH_CODE):
        assert os.path.isfile(path), path + " was not built"


def run_stock(args, natmod=True, timeout=300):
    """The stock unix port; with natmod, _llm.mpy (x64) and app/ on its path."""
    env = dict(os.environ)
    env["MICROPYPATH"] = (natmod_dir("x64") + ":" if natmod else "") + APP
    return subprocess.run([STOCK_UNIX, "-X", "heapsize=8M"] + list(args), capture_output=True,
                          env=env, timeout=timeout)


def run_firmware(firmware, args, timeout=300):
    return subprocess.run([firmware] + list(args), capture_output=True, timeout=timeout)


def last_json(proc, what):
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (what, proc.stdout.decode(errors="replace")[-2000:],
                                                        proc.stderr.decode(errors="replace")[-2000:])
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


GREEDY = """
import llm, json
m = llm.load(%r, ctx=256, kv='int8')
print(json.dumps([t for _, t in m.tokens('Once upon a time', steps=200, temperature=0)]))
"""


# ---- the package files (no build needed) -----------------------------------

def package_urls(path):
    with open(os.path.join(REPO, path)) as f:
        pkg = json.load(f)
    return pkg["urls"], pkg["version"]


def test_package_json_lists_every_module_of_the_package():
    py = sorted(f for f in os.listdir(os.path.join(APP, "llm")) if f.endswith(".py"))
    urls, version = package_urls("package.json")
    assert urls == [["llm/" + f, "app/llm/" + f] for f in py]
    with open(os.path.join(APP, "llm", "__init__.py")) as f:
        assert '__version__ = "%s"' % version in f.read()
    for arch in ("x64", "armv7m", "xtensawin"):
        arch_urls, arch_version = package_urls("usermod/natmod/package-%s.json" % arch)
        # The same files, relative to usermod/natmod/, plus this architecture's .mpy.
        assert arch_urls == [[dest, "../../" + src] for dest, src in urls] + \
            [["_llm.mpy", "../../build/natmod/%s/_llm.mpy" % arch]]
        assert arch_version == version


# ---- x64: the stock unix port ----------------------------------------------

def test_mpy_files_are_native_modules_for_micropython_1_25(built):
    for arch, code in ARCH_CODE.items():
        with open(os.path.join(natmod_dir(arch), "_llm.mpy"), "rb") as f:
            header = f.read(4)
        # 'M', mpy version 6, then arch << 2 | sub-version 3 (MicroPython 1.23 to 1.25).
        assert header[:3] == bytes([ord("M"), 6, code << 2 | 3]), (arch, header)


def test_stock_unix_has_neither_module_until_the_mpy_is_on_its_path(built):
    r = run_stock(["-c", "import _llm"], natmod=False)
    assert r.returncode == 1 and b"ImportError" in r.stderr
    r = run_stock(["-c", "import _llm; print(_llm.__file__)"])
    assert r.returncode == 0 and r.stdout.decode().strip().endswith("build/natmod/x64/_llm.mpy")


@pytest.mark.parametrize("flags,golden", [
    (["-t", "0"], "stories260K_t0.txt"),
    (["-t", "1.0", "-p", "0.9", "-s", "133742"], "stories260K_t1_p0.9_s133742.txt"),
])
def test_golden_outputs_byte_for_byte(built, models_dir, golden_dir, flags, golden):
    r = run_stock(["-m", "llm", os.path.join(models_dir, "stories260K.bin"),
                   "-z", os.path.join(models_dir, "tok512.bin")] + flags)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    with open(os.path.join(golden_dir, golden), "rb") as f:
        assert r.stdout == f.read()
    assert b"achieved tok/s" in r.stderr


def test_greedy_tokens_match_the_firmware_module(built, firmware, int8_model):
    on_natmod = last_json(run_stock(["-c", GREEDY % int8_model]), "natmod")
    on_firmware = last_json(run_firmware(firmware, ["-c", GREEDY % int8_model]), "firmware")
    assert len(on_natmod) == 200
    assert on_natmod == on_firmware


API = r"""
import _llm, json
from array import array

def err(fn, *args):
    try:
        fn(*args)
    except Exception as e:
        return [type(e).__name__, str(e)]
    return None

table = array('i', [0] * 4 * 12)
table[4] = -1  # layer 0's rms_att
print(json.dumps({
    'module': sorted(n for n in dir(_llm) if not n.startswith('__')),
    'model': sorted(n for n in dir(_llm.Model) if not n.startswith('__')),
    'tokenizer': sorted(n for n in dir(_llm.Tokenizer) if not n.startswith('__')),
    'errors': [
        err(_llm.matmul, bytearray(3), bytearray(4), bytearray(4)),
        err(_llm.Tokenizer, bytes(16), 1000),
        err(_llm.memory, (64, 0, 1, 1, 1, 1, 1), 8, 0),
        err(_llm.Model, bytearray(4096), table, (8, 16, 1, 2, 2, 10, 8), 8, False),
        err(_llm.Model, bytearray(64), table, (8, 16, 1, 2, 2, 10, 8), 8, False),
        err(_llm.threads, 3),
    ],
    'memory': _llm.memory((64, 172, 5, 8, 4, 512, 512), 256, 1),
}))
"""


def test_api_and_error_messages_are_the_firmware_module_s(built, firmware):
    on_natmod = last_json(run_stock(["-c", API]), "natmod")
    on_firmware = last_json(run_firmware(firmware, ["-c", API]), "firmware")
    # The natmod has no MappedFile (a unix-only helper of the firmware).
    assert on_firmware["module"] == sorted(on_natmod["module"] + ["MappedFile"])
    assert on_natmod == dict(on_firmware, module=on_natmod["module"])
    assert ["ValueError", "tensor rms_att of layer 0: bad offset or type"] in on_natmod["errors"]
    assert ["ValueError", "hidden_dim must be between 1 and 2**31-1"] in on_natmod["errors"]
    r = run_stock(["-c", "import _llm; print(_llm.threads(2), _llm.threads())"])
    assert r.stdout.split() == [b"1", b"1"]  # single core


# ---- armv7m: the emulated MCU, installed with mip --------------------------

def mpremote(port, *args, timeout=300):
    return devicetools.mpremote(port, *args, timeout=timeout)


@pytest.fixture(scope="module")
def stock_board(built, tmp_path_factory):
    with devicetools.running_emulator(STOCK_QEMU, tmp_path_factory, "qemu-stock") as port:
        yield port


def test_mip_install_then_greedy_generation_on_the_emulated_mcu(stock_board, firmware, int8_model):
    port = stock_board
    devicetools.assert_stock_firmware(port, timeout=300)  # a stock firmware

    # The Python package alone (package.json at the top), then the package and
    # this architecture's .mpy.
    out = mpremote(port, "mip", "install", "package.json")
    assert "Installing: /lib/llm/model.py" in out and "_llm.mpy" not in out
    out = mpremote(port, "mip", "install", "usermod/natmod/package-armv7m.json")
    assert "Installing: /lib/_llm.mpy" in out
    listing = json.loads(mpremote(port, "exec", "import os, json\n"
                                  "print(json.dumps([sorted(os.listdir('/lib')), sorted(os.listdir('/lib/llm'))]))"
                                  ).strip().splitlines()[-1])
    py = sorted(f for f in os.listdir(os.path.join(APP, "llm")) if f.endswith(".py"))
    assert listing == [["_llm.mpy", "llm"], py]

    r = subprocess.run([sys.executable, "-m", "host.deploy", port, int8_model], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "sha256 verified" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]

    out = mpremote(port, "exec", "import _llm\nprint(_llm.__file__)\n" + GREEDY % "/rom/s260_int8.llm")
    lines = out.strip().splitlines()
    assert lines[0] == "/lib/_llm.mpy"
    on_device = json.loads(lines[-1])
    on_host = last_json(run_firmware(firmware, ["-c", GREEDY % int8_model]), "firmware")
    assert len(on_device) == 200
    assert on_device == on_host
