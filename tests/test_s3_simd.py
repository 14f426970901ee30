"""The int8 matmul through the ESP32-S3's SIMD (PIE), on the emulated S3 core.

The s3sim build (boards/s3sim) assembles esp-nn's esp_nn_dot_s8_aligned_esp32s3
from esp-nn's source and llm_matmul_q8 hands groups whose size is a multiple
of 16, with 16-byte aligned codes, to it (usermod/llm/matmul_q8_esp32s3.c).
These tests check, on the emulated core, with the instructions counted per
translated block (the pcprof plugin of tests/s3kernels):
- _llm.matmul_q8 on random shapes gives the host firmware's (portable C)
  result bit for bit, SIMD-eligible or not, and the SIMD kernel ran exactly
  once per group of every eligible case, and never for the others;
- a stories260K int8 .llm from the converter (groups of 64, w2 rows padded
  from 172 to 192) generates the host firmware's greedy tokens, with an fp32
  and an int8 KV cache, and every group of every int8 matmul of every token
  went through the SIMD kernel.
"""
import json
import os

import pytest

from repo import REPO, make_ok
from host import bench_s3, convert, firmware as host_firmware, modelfile, romfs, s3prof

pytestmark = pytest.mark.s3

# The default s3sim build, as tests/test_s3.py's; $S3SIM_BUILD names another.
S3SIM_BUILD = os.path.abspath(os.environ.get("S3SIM_BUILD") or os.path.join(REPO, "build", "s3sim"))
ELF = os.path.join(S3SIM_BUILD, "firmware.elf")
# The same port with the single-kernel bindings (_llm.matmul_q8, ...), which
# the chip's firmware leaves out (LLM_TEST_KERNELS, usermod/llm/modllm.h).
KERNELS_BUILD = S3SIM_BUILD + "-kernels"
KERNELS_ELF = os.path.join(KERNELS_BUILD, "firmware.elf")
DOT = "esp_nn_dot_s8_aligned_esp32s3"


def build(build_dir, *extra):
    """An s3sim firmware and the pcprof plugin; the ELF's symbols."""
    make_ok("s3-firmware", "S3SIM_BUILD=" + build_dir, *extra, timeout=1800)
    make_ok(os.path.relpath(s3prof.PCPROF, REPO))  # the pcprof plugin (tests/s3kernels/s3kernels.mk)
    assert os.path.isfile(s3prof.PCPROF)
    syms = s3prof.symbols(os.path.join(build_dir, "firmware.elf"))
    names = {n for _, n in syms}
    assert DOT in names and "llm_matmul_q8_simd" in names, "the S3 build does not link the SIMD matmul"
    return syms


@pytest.fixture(scope="module")
def built():
    """The default s3sim firmware, as tests/test_s3.py runs it."""
    return build(S3SIM_BUILD)


@pytest.fixture(scope="module")
def kernels_built():
    return build(KERNELS_BUILD, "CFLAGS_EXTRA=-DLLM_TEST_KERNELS=1")


def run_s3(script, romfs_img=None, timeout=900, elf=ELF):
    """(console output, pcprof log) of script on a fresh emulated S3 core."""
    out, text = bench_s3.run_script(elf, romfs_img, script, timeout=timeout)
    return out.decode(errors="replace"), text


def calls(log_text, syms, name):
    """How often the function `name` was entered: runs of the block at its address."""
    addr = dict((n, a) for a, n in syms)[name]
    blocks, _ = s3prof.parse_blocks(log_text)
    return sum(count for pc, _, count in blocks if pc == addr)


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


# (n, d, group size, byte offset of xq and w from a 16-byte boundary).  The
# SIMD path takes group sizes that are multiples of 16 on aligned buffers;
# the rest stay on the portable C, on the S3 too.
CASES = [(64, 7, 64, 0), (192, 5, 64, 0), (288, 3, 48, 0), (32, 9, 16, 0), (256, 2, 256, 0), (1024, 3, 64, 0),
         (176, 4, 176, 0), (64, 5, 64, 4), (192, 3, 48, 8), (172, 4, 43, 0), (40, 3, 8, 0), (30, 2, 30, 0)]

KERNEL = """
import _llm, array, json, uctypes
seed = [%(seed)d]
def rnd(k):
    seed[0] = (seed[0] * 1103515245 + 12345) & 0x7fffffff
    return (seed[0] >> 8) %% k
def aligned(n, off):
    b = bytearray(n + 48)
    s = (-uctypes.addressof(b)) %% 16 + off
    return memoryview(b)[s:s + n]
out_all, simd = [], 0
for n, d, gs, off in %(cases)r:
    xq = aligned(n, off)
    w = aligned(n * d, off)
    for i in range(n):
        xq[i] = (rnd(255) - 127) & 0xff
    for i in range(n * d):
        w[i] = (rnd(255) - 127) & 0xff
    for i in range(0, n, 7):
        xq[i] = 127 if i %% 2 else 0x81  # the extremes, +-127
    xs = array.array('f', [(rnd(20000) - 10000) / 4096.0 for _ in range(n // gs)])
    # Half scales: normal numbers of both signs, and a zero.
    ws = array.array('H', [((rnd(2) << 15) | ((rnd(20) + 5) << 10) | rnd(1024)) for _ in range(d * (n // gs))])
    ws[0] = 0
    out = array.array('f', [0.0] * d)
    _llm.matmul_q8(out, xq, xs, w, ws, gs)
    if gs %% 16 == 0 and uctypes.addressof(xq) %% 16 == 0 and uctypes.addressof(w) %% 16 == 0:
        simd += d * (n // gs)
    out_all.append(bytes(out).hex())
print(json.dumps([out_all, simd]))
"""


@pytest.mark.parametrize("seed", [1, 20261201])
def test_simd_matmul_q8_equals_the_portable_c_bit_for_bit(kernels_built, seed):
    script = KERNEL % {"seed": seed, "cases": CASES}
    out, prof = run_s3(script, elf=KERNELS_ELF)
    on_s3, groups = last_json(out)
    on_host, _ = host_firmware.run_code(script)
    assert len(on_s3) == len(CASES)
    for case, a, b in zip(CASES, on_s3, on_host):
        assert a == b, "n, d, gs, offset = %r: the S3 and the host differ" % (case,)
    # Every group of every eligible case went through esp-nn's kernel, once;
    # the misaligned and non-multiple-of-16 cases never did.
    want = sum(d * (n // gs) for n, d, gs, off in CASES if gs % 16 == 0 and off == 0)
    assert groups == want
    assert calls(prof, kernels_built, DOT) == want


GREEDY = """
import llm, json
m = llm.load('/rom/s260_int8.llm', ctx=64, kv=%(kv)r)
print(json.dumps([t for _, t in m.tokens('Once upon a time', steps=%(steps)d, temperature=0)]))
"""


@pytest.fixture(scope="module")
def int8_romfs(tmp_path_factory, models_dir):
    d = tmp_path_factory.mktemp("s3-simd")
    model = str(d / "s260_int8.llm")
    convert.convert(os.path.join(models_dir, "stories260K.bin"), os.path.join(models_dir, "tok512.bin"),
                    model, "int8")
    img = str(d / "m.romfs")
    romfs.write_image(img, [model])
    return model, img


def groups_per_token(model):
    """SIMD dot products of one forward pass: every int8 matrix's rows times groups per row."""
    data = open(model, "rb").read()
    header = modelfile.read_header(data)
    c = header["config"]
    kv_dim = c["dim"] // c["n_heads"] * c["n_kv_heads"]
    shapes = {"wq": (c["dim"], c["dim"]), "wk": (kv_dim, c["dim"]), "wv": (kv_dim, c["dim"]),
              "wo": (c["dim"], c["dim"]), "w1": (c["hidden_dim"], c["dim"]), "w2": (c["dim"], c["hidden_dim"]),
              "w3": (c["hidden_dim"], c["dim"])}
    table = modelfile.read_table(data, header)
    total = 0
    for i, (off, kind, gs, soff) in enumerate(table[1:-2]):
        name = modelfile.LAYER_TENSORS[i % 9]
        if name in shapes:
            rows, cols = shapes[name]
            assert kind == modelfile.Q8 and gs % 16 == 0
            total += rows * modelfile.padded_cols(cols, gs) // gs
    off, kind, gs, soff = table[-1]  # the classifier
    assert kind == modelfile.Q8 and gs % 16 == 0
    return total + c["vocab_size"] * modelfile.padded_cols(c["dim"], gs) // gs


@pytest.mark.parametrize("kv", ["f32", "int8"])
def test_int8_greedy_tokens_through_the_simd_equal_the_host_firmware(built, int8_romfs, kv):
    model, img = int8_romfs
    steps = 40
    out, prof = run_s3(GREEDY % {"kv": kv, "steps": steps}, romfs_img=img)
    on_s3 = last_json(out)
    on_host = host_firmware.run_code(GREEDY.replace("/rom/s260_int8.llm", model) % {"kv": kv, "steps": steps})
    assert len(on_s3) >= steps - 8 and on_s3 == on_host
    # Every int8 matmul of every forward pass went through the SIMD kernel:
    # as many dot products as groups, for each position the model ran.
    per_token = groups_per_token(model)
    n = calls(prof, built, DOT)
    assert n > 0 and n % per_token == 0, (n, per_token)
    assert n // per_token == steps  # llama2.c's loop: one forward pass per step
