"""The emulated ESP32-S3 core (boards/s3sim): MicroPython built by the S3
compiler, run by qemu's `sim` machine with -cpu esp32s3, driven by mpremote
over the pty, as a user drives a board.

Builds through make (s3-firmware, s3-firmware-psram, s3-stock, natmod
ARCH=xtensawin), starts one emulator per fixture and checks:
- the console (mpremote exec/fs, raw REPL), heap, ROMFS, clock, idle CPU;
- llama2.c's two golden outputs, byte for byte, from files put in ROMFS with
  `make deploy` (on the PSRAM-sized build: the fp32 KV cache of a 512-token
  context does not fit the 250 KB heap);
- int8 greedy tokens equal to the host firmware's for the same .llm file;
- Ctrl-C during generation, and malformed model files, leave the port running;
- the xtensawin _llm.mpy, installed with mip on the build without _llm,
  gives the same tokens (and its objects give mpy_ld no GOT name to share).

Needs the S3 test tools (make s3-tools, from SHARED_DIR) and mpremote;
fails, not skips, when they are missing.
"""
import json
import os
import re
import struct
import subprocess
import sys
import time

import pytest

from devicetools import assert_stock_firmware, friendly_repl, mpremote, running_emulator
from host import firmware as host_firmware, llama2

pytestmark = pytest.mark.s3

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, "build")
PSRAM_ELF = os.path.join(BUILD, "s3sim-psram", "firmware.elf")
STOCK_ELF = os.path.join(BUILD, "s3sim-stock", "firmware.elf")


def make(*args, timeout=1200):
    r = subprocess.run(["make", "--no-print-directory"] + list(args), cwd=REPO, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, "make %s failed:\n%s\n%s" % (" ".join(args), r.stdout[-3000:], r.stderr[-3000:])
    return r


def make_var(name):
    return make("-s", "-f", "Makefile", "--eval", "print-%: ; @echo $($*)", "print-" + name).stdout.strip()


@pytest.fixture(scope="module")
def built():
    make("-j2", "s3-firmware", "s3-firmware-psram", "s3-stock")
    make("natmod", "ARCH=xtensawin")
    for path in (PSRAM_ELF, STOCK_ELF, os.path.join(BUILD, "natmod", "xtensawin", "_llm.mpy")):
        assert os.path.isfile(path), path + " was not built"
    return make_var("S3_QEMU")


@pytest.fixture(scope="module")
def board(built):
    """The default build (250 KB heap, like an S3 without PSRAM), started as a user does."""
    r = make("emulator-s3")
    port = re.search(r"^PORT=(\S+)", r.stdout, re.M).group(1)
    yield port
    make("emulator-s3-stop")


@pytest.fixture(scope="module")
def psram_board(built, tmp_path_factory):
    with running_emulator(PSRAM_ELF, tmp_path_factory, "s3-psram", s3=True, qemu=built) as port:
        yield port


def deploy(port, *files):
    r = make("deploy", "PORT=" + port, "MODEL=" + " ".join(files), timeout=600)
    assert r.stdout.count("sha256 verified") == len(files), r.stdout[-2000:]


GREEDY = """
import llm, json
m = llm.load(%r, ctx=256, kv='int8')
print(json.dumps([t for _, t in m.tokens('Once upon a time', steps=200, temperature=0)]))
"""


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def qemu_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def emulator_pid(port):
    with open(os.path.join(BUILD, "s3sim", "emulator.pid")) as f:
        return int(f.read().split()[0])


# ---- console, memory, storage, clock --------------------------------------

def test_console_heap_romfs_and_clock(board, tmp_path):
    assert mpremote(board, "exec", "print(1+1)").strip() == "2"
    host_before = time.time()
    out = mpremote(board, "exec", (
        "import gc, sys, time, vfs\n"
        "gc.collect()\n"
        "print(sys.platform, gc.mem_free() + gc.mem_alloc(), vfs.rom_ioctl(1), len(vfs.rom_ioctl(2, 0)))\n"
        "t = time.ticks_ms(); time.sleep_ms(300); print(time.ticks_diff(time.ticks_ms(), t), time.time())\n"
    )).split()
    assert out[0] == "s3sim"
    assert 240_000 <= int(out[1]) <= 256_000, out  # ~250 KB, like a no-PSRAM ESP32-S3
    assert out[2] == "1" and int(out[3]) >= 4 * 1024 * 1024
    # The cycle counter follows real time: a sleep never ends early (how much
    # later depends on the load on the machine, so no upper bound).
    assert int(out[4]) >= 290, out
    seconds_1970 = int(out[5]) + 946684800
    assert host_before - 5 <= seconds_1970 <= time.time() + 5, (out, host_before)

    # Files on the littlefs RAM disk, through mpremote's fs commands.
    local = tmp_path / "note.py"
    local.write_text("VALUE = 'on the s3'\n")
    mpremote(board, "fs", "cp", str(local), ":note.py")
    out = mpremote(board, "soft-reset", "exec", "import note\nprint(note.VALUE.replace(' ', '_'))")
    assert out.strip() == "on_the_s3"


NATIVE = """
import micropython
@micropython.native
def f(n):
    s = 0
    for i in range(n):
        s += i * 3
    return s
@micropython.viper
def g(n: int) -> int:
    s = 0
    for i in range(n):
        s += i
    return s
print(f(1000), g(1000))
def r(n, *extra):
    return 0 if n == 0 else 1 + r(n - 1, *extra)
print(r(20, 1, 2))
"""


def test_native_viper_and_deep_calls_run(board):
    # r() recurses deeper than the register file: its VM frames come from
    # alloca, whose movsp traps when the caller is spilled (startup.S).
    assert mpremote(board, "exec", NATIVE).split() == [str(3 * 999 * 1000 // 2), str(999 * 1000 // 2), "20"]


def test_idle_emulator_sleeps(board):
    pid = emulator_pid(board)
    time.sleep(0.5)  # the REPL waits after 100 ms without input
    before = qemu_cpu_seconds(pid)
    time.sleep(2)
    assert qemu_cpu_seconds(pid) - before < 0.5  # a spinning core would take ~2 s


def test_alloca_exception_reloads_the_spilled_caller(built, tmp_path):
    # MicroPython's alloca sites rarely trap without interrupts, so a small
    # bare-metal program forces the case (see tests/s3sim_alloca.c).
    gcc = os.path.join(make_var("S3_BIN"), "xtensa-esp32s3-elf-gcc")
    elf = str(tmp_path / "alloca.elf")
    board = os.path.join(REPO, "boards", "s3sim")
    subprocess.run([gcc, "-O2", "-mlongcalls", "-nostdlib", "-mtext-section-literals",
                    "-x", "assembler-with-cpp", os.path.join(board, "startup.S"),
                    "-x", "c", os.path.join(REPO, "tests", "s3sim_alloca.c"),
                    "-T", os.path.join(board, "s3sim.ld"), "-Wl,--defsym=_board_romfs_size=0x1000",
                    "-Wl,--no-warn-rwx-segments", "-lgcc", "-o", elf], check=True, timeout=60)
    r = subprocess.run([built, "-M", "sim", "-cpu", "esp32s3", "-semihosting", "-nographic",
                        "-monitor", "none", "-kernel", elf], capture_output=True, timeout=60)
    assert (r.returncode, r.stdout.strip()) == (0, b"PASS"), r.stdout + r.stderr


# ---- llama2.c's golden outputs ---------------------------------------------

GOLDEN = """
import sys
sys.argv[:] = ['llm', '/rom/stories260K.bin', '-z', '/rom/tok512.bin'] + %r
import llm.__main__
"""


@pytest.mark.parametrize("flags,golden", [
    (["-t", "0"], "stories260K_t0.txt"),
    (["-t", "1.0", "-p", "0.9", "-s", "133742"], "stories260K_t1_p0.9_s133742.txt"),
])
def test_golden_outputs_byte_for_byte(psram_board, models_dir, golden_dir, flags, golden):
    if "stories260K.bin" not in mpremote(psram_board, "exec", "import os\ntry:\n print(os.listdir('/rom'))\n"
                                                               "except OSError:\n pass"):
        deploy(psram_board, os.path.join(models_dir, "stories260K.bin"), os.path.join(models_dir, "tok512.bin"))
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", psram_board, "exec", GOLDEN % flags],
                       capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(os.path.join(golden_dir, golden), "rb") as f:
        want = f.read()
    # The story goes to sys.stdout.buffer as raw bytes; tok/s follows on stderr (the same console).
    assert r.stdout[:len(want)] == want
    assert re.fullmatch(rb"achieved tok/s: [0-9.]+\r\n", r.stdout[len(want):]), r.stdout[len(want):]


# ---- int8 on the no-PSRAM build ---------------------------------------------

@pytest.fixture(scope="module")
def deployed(board, int8_model):
    deploy(board, int8_model)
    return board


def test_int8_greedy_tokens_equal_the_host_firmware_s(deployed, int8_model, firmware):
    on_device = last_json(mpremote(deployed, "exec", GREEDY % "/rom/s260_int8.llm", timeout=300))
    on_host = host_firmware.run_code(GREEDY % int8_model)
    assert len(on_device) == 200
    assert on_device == on_host


def test_ctrl_c_stops_generation_and_the_port_keeps_running(deployed):
    with friendly_repl(deployed) as con:
        for code in (b"while True: pass\r\r", b"import time; time.sleep(60)\r"):
            con.interrupt(code)
        con.run(b"import llm; m = llm.load('/rom/s260_int8.llm', ctx=256, kv='int8')", timeout=60)
        # Endless generation: only Ctrl-C, polled between tokens, ends it.
        con.interrupt(b"while True: m.generate('', steps=256, temperature=0)\r\r", running_for=1.5, timeout=30)
        out = con.run(b"print(m.generate('Once upon a time', steps=20, temperature=0))", timeout=60)
        assert b"Once upon a time" in out and b"Error" not in out, out


# ---- malformed model files ----------------------------------------------------

def malformed_files(d):
    """A small valid checkpoint and tokenizer, and broken variants of the
    checkpoint: each must make llm.load raise, not crash the port."""
    good_path = d / "good.bin"
    llama2.random_checkpoint(str(good_path), 48, 172, 2, 6, 2, 300, 32, shared=False, seed=4)
    pieces, scores = llama2.random_tokenizer(300, seed=4)
    llama2.write_tokenizer(str(d / "tok300.bin"), pieces, scores)
    good = good_path.read_bytes()
    cfg = list(struct.unpack("<7i", good[:28]))
    files = {
        "empty.bin": b"",
        "header_only.bin": good[:28],
        "truncated.bin": good[:len(good) // 2],
        "random.bin": bytes((i * 193 + 7) & 0xFF for i in range(4096)),
    }
    for i, value in ((0, 1 << 30), (0, -48), (2, 0), (3, 7), (5, 1 << 28), (6, -1)):
        bad = list(cfg)
        bad[i] = value
        files["field%d_%d.bin" % (i, value)] = struct.pack("<7i", *bad) + good[28:]
    paths = [str(good_path), str(d / "tok300.bin")]
    for name, data in files.items():
        path = d / name
        path.write_bytes(data)
        paths.append(str(path))
    return paths


MALFORMED = """
import llm, json
out = []
for p in %r:
    try:
        llm.load('/rom/' + p, '/rom/tok300.bin', ctx=32)
        out.append([p, 'LOADED'])
    except Exception as e:
        out.append([p, type(e).__name__])
m = llm.load('/rom/good.bin', '/rom/tok300.bin')
out.append(m.generate('', steps=8, temperature=0))
print(json.dumps(out))
"""


def test_malformed_model_files_raise_and_the_port_keeps_running(board, int8_model, firmware, tmp_path):
    paths = malformed_files(tmp_path)
    deploy(board, *paths)
    names = [os.path.basename(p) for p in paths[2:]]
    out = last_json(mpremote(board, "exec", MALFORMED % names, timeout=300))
    results, story = out[:-1], out[-1]
    assert [r[0] for r in results] == names
    for name, kind in results:
        assert kind in ("ValueError", "OSError", "MemoryError"), (name, kind)
    # The valid model still loads and generates what the host firmware does.
    host = host_firmware.run_code((MALFORMED % []).replace("/rom/", str(tmp_path) + "/"))
    assert story == host[-1]
    assert mpremote(board, "exec", "print(6 * 7)").strip() == "42"


# ---- the xtensawin .mpy on the build without _llm ---------------------------

@pytest.fixture(scope="module")
def stock_board(built, tmp_path_factory):
    with running_emulator(STOCK_ELF, tmp_path_factory, "s3-stock", s3=True, qemu=built) as port:
        yield port


def test_xtensawin_objects_do_not_share_local_got_names(built):
    """MicroPython 1.25's mpy_ld names a literal that points at a static
    function or object "SECTION+0xOFFSET" and makes one GOT entry per name for
    all objects: two objects whose literals point into same-named sections at
    the same offset would share it, and one would call or read the other's
    code or data (transformer.c's parallel callback ran llm_natmod.c's print
    function: FATAL 0x0f).  The Makefile links copies of the objects whose
    text and data sections carry the object's name; check that no such
    section name is in two of them."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection

    unique = os.path.join(BUILD, "natmod", "xtensawin", "obj", "unique")
    objects = sorted(f for f in os.listdir(unique) if f.endswith(".o"))
    assert "transformer.o" in objects and "llm_natmod.o" in objects, objects
    owners = {}
    for name in objects:
        with open(os.path.join(unique, name), "rb") as f:
            elf = ELFFile(f)
            symtab = elf.get_section_by_name(".symtab")
            for sec in elf.iter_sections():
                if not (isinstance(sec, RelocationSection) and sec.name.startswith(".rela.literal")):
                    continue
                for r in sec.iter_relocations():
                    sym = symtab.get_symbol(r["r_info_sym"])
                    if sym["st_info"]["bind"] != "STB_LOCAL":
                        continue
                    # mpy_ld takes section symbols by their section's name,
                    # other local symbols by their own name.
                    if sym["st_info"]["type"] == "STT_SECTION":
                        target = elf.get_section(sym["st_shndx"]).name
                    else:
                        target = sym.name
                    owners.setdefault(target, set()).add(name)
    shared = {t: sorted(o) for t, o in owners.items() if len(o) > 1}
    assert shared == {}, shared
    assert ".text.transformer" in owners  # the callbacks' literals were seen


def test_mip_installed_xtensawin_mpy_gives_the_same_tokens(stock_board, int8_model, firmware):
    port = stock_board
    assert_stock_firmware(port)  # neither built in nor frozen
    out = mpremote(port, "mip", "install", "usermod/natmod/package-xtensawin.json", timeout=300)
    assert "Installing: /lib/_llm.mpy" in out and "Installing: /lib/llm/model.py" in out
    deploy(port, int8_model)
    lines = mpremote(port, "exec", "import _llm\nprint(_llm.__file__)\n" + GREEDY % "/rom/s260_int8.llm",
                     timeout=300).strip().splitlines()
    assert lines[0] == "/lib/_llm.mpy"
    on_device = json.loads(lines[-1])
    assert len(on_device) == 200
    assert on_device == host_firmware.run_code(GREEDY % int8_model)
