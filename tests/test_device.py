"""The device workflow on the emulated MCU, as a user runs it:
`make emulator`, `make deploy PORT=... MODEL=...`, then `import llm` at
the board's REPL.  The emulator is MicroPython's qemu port on a Cortex-M3
with a ~250 KB heap (a no-PSRAM ESP32-S3's budget) and a flash-like ROMFS
region, carrying the same C module and frozen app as the host firmware."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from devicetools import friendly_repl, mpremote
from host import convert, firmware, llama2
from repo import REPO, make



@pytest.fixture(scope="module")
def board():
    r = make("emulator")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    port = re.search(r"^PORT=(\S+)", r.stdout, re.M).group(1)
    yield port
    make("emulator-stop")


@pytest.fixture(scope="module")
def models(tmp_path_factory, models_dir):
    d = tmp_path_factory.mktemp("device-models")
    src, tok = os.path.join(models_dir, "stories260K.bin"), os.path.join(models_dir, "tok512.bin")
    i8, f32 = str(d / "s260_int8.llm"), str(d / "s260_f32.llm")
    convert.convert(src, tok, i8, "int8")
    convert.convert(src, tok, f32, "f32")
    return i8, f32


def deploy(port, model, *extra):
    r = make("deploy", "PORT=" + port, "MODEL=" + model, *extra)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "sha256 verified" in r.stdout
    return r


@pytest.fixture(scope="module")
def deployed(board, models):
    """Both stories260K files in the board's ROMFS, deployed once."""
    deploy(board, " ".join(models))
    return board


GREEDY = """
import llm, json
m = llm.load(%r, ctx=256, kv='int8')
print(json.dumps([t for _, t in m.tokens('Once upon a time', steps=200, temperature=0)]))
"""


def device_json(port, code):
    return json.loads(mpremote(port, "exec", code, timeout=300).strip().splitlines()[-1])


def test_deploy_int8_generates_the_host_firmware_tokens(deployed, models):
    board = deployed
    on_device = device_json(board, GREEDY % "/rom/s260_int8.llm")
    on_host = firmware.run_code(GREEDY % models[0])
    assert len(on_device) == 200
    assert on_device == on_host


def test_deploy_fp32_fits_in_romfs_and_matches_host(deployed, models):
    board = deployed
    on_device = device_json(board, GREEDY % "/rom/s260_f32.llm")
    assert on_device == firmware.run_code(GREEDY % models[1])
    info = device_json(board, "import llm, json\nm = llm.load('/rom/s260_f32.llm', ctx=64)\n"
                              "print(json.dumps(m.info()))")
    assert info["weights_where"] == "mapped" and info["heap_free"] > 0


def test_model_that_does_not_fit_gives_the_helpful_memory_error(deployed):
    board = deployed
    out = mpremote(board, "exec", "import llm\ntry:\n llm.load('/rom/s260_f32.llm')\n"
                                  "except MemoryError as e:\n print('MemoryError:', e)")
    assert "MemoryError:" in out and "needs about" in out
    # Only settings that fit the free heap are suggested (tests/test_memory_budgets.py loads each one).
    assert re.search(r"try ctx=\d+ or (ctx=\d+, )?kv='int8'", out), out


def test_soft_reset_keeps_the_deployed_model(deployed, models):
    board = deployed
    digest = hashlib.sha256(open(models[0], "rb").read()).hexdigest()
    out = mpremote(board, "soft-reset", "exec",
                   "import os, hashlib, binascii\nprint(sorted(os.listdir('/rom')))\n"
                   "h = hashlib.sha256(memoryview(open('/rom/s260_int8.llm','rb')))\n"
                   "print(binascii.hexlify(h.digest()).decode())")
    assert "['s260_f32.llm', 's260_int8.llm']" in out and digest in out


def test_ctrl_c_stops_a_generation_and_the_model_stays_usable(deployed):
    with friendly_repl(deployed) as con:
        con.run(b"import llm; m = llm.load('/rom/s260_int8.llm', ctx=256, kv='int8')", timeout=300)
        con.interrupt(b"print(m.generate('', steps=256, temperature=0))\r", running_for=0.5, timeout=30)
        out = con.run(b"print(m.generate('Once upon a time', steps=20, temperature=0))", timeout=60)
        assert b"Once upon a time" in out and b"Error" not in out, out
        # The interactive loop: Ctrl-C ends the story, not the loop.
        con.write(b"llm.repl(m, steps=256, temperature=0)\r")
        con.read_until(b"> ", timeout=30)
        con.write(b"Once upon a time\r")
        con.read_for(0.5)
        con.write(b"\x03")
        con.read_until(b"[stopped]", timeout=30)
        con.read_until(b"\r\n> ", timeout=30)  # after the story's tok/s line
        con.write(b"The cat\r")
        out = con.read_until(b"\r\n> ", timeout=120)
        assert b"The cat" in out
        con.write(b"\r")  # an empty line leaves the loop
        con.read_until(b">>> ", timeout=30)


def test_filesystem_deploy_verifies_and_loads(board, tmp_path):
    cfg, w = llama2.random_checkpoint(str(tmp_path / "r.bin"), 32, 64, 2, 4, 2, 300, 64)
    pieces, scores = llama2.random_tokenizer(300)
    llama2.write_tokenizer(str(tmp_path / "t.bin"), pieces, scores)
    small = str(tmp_path / "small.llm")
    convert.convert(str(tmp_path / "r.bin"), str(tmp_path / "t.bin"), small, "int8")
    deploy(board, small, "FS=1")
    code = "import llm, json, os\nm = llm.load('/small.llm')\n" \
           "print(json.dumps([sorted(os.listdir('/')), m.info()['weights_where'], m.generate('', steps=10, temperature=0)]))"
    listing, where, text = device_json(board, code)
    assert "small.llm" in listing and "small.llm.part" not in listing
    assert where == "heap"
    assert text == firmware.run_code(code.replace("/small.llm", small).replace(", os\n", "\nimport os\n"))[2]


def test_interrupted_deploy_leaves_no_loadable_model(deployed, models):
    board = deployed
    proc = subprocess.Popen([sys.executable, "-m", "host.deploy", board, models[1]], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Kill it part-way through writing.
    deadline = time.monotonic() + 120
    seen = ""
    while "writing ROMFS: 25%" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "writing ROMFS: 25%" in seen
    out = mpremote(board, "soft-reset", "exec", "import llm\n"
                   "for p in ('/rom/s260_f32.llm', '/rom/s260_int8.llm'):\n"
                   " try:\n  llm.load(p)\n  print('LOADED', p)\n except Exception as e:\n  print('refused', p)")
    assert "LOADED" not in out, out
    assert out.count("refused") == 2
