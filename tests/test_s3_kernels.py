"""The _llm kernels on the emulated ESP32-S3 core, bit for bit against the host.

tests/s3kernels/harness.c is built twice (`make s3-harness`): for the S3 core
with xtensa-esp32s3-elf-gcc and the module's ESP-IDF flags, and for the host.
Both runs must print the same bits for every kernel case, and neither may
differ from the naive loops in llama2.c's order inside the harness.  The C
forward pass must then give llama2.c's greedy story for stories260K on the S3
core, with the logits of every position equal to the host build's.

Missing S3 tools fail under CI and skip elsewhere (make s3-tools unpacks them).
"""
import os

import pytest

from repo import REPO, make_ok

pytestmark = pytest.mark.s3

TOOLS = os.path.join(REPO, "deps", "s3-tools")


@pytest.fixture(scope="module")
def harness():
    if not os.path.isfile(os.path.join(TOOLS, ".unpacked")):
        r = None
        if os.path.isdir(os.path.join(REPO, "..", "shared", "toolchains")):
            from repo import make
            r = make("s3-tools", timeout=900)
        if r is None or r.returncode != 0:
            msg = "S3 test tools missing (make s3-tools needs ../shared/toolchains)"
            if os.environ.get("CI"):
                pytest.fail(msg)
            pytest.skip(msg)
    make_ok("s3-harness", timeout=900)
    from host import s3harness
    return s3harness


def test_kernels_bit_identical_to_host(harness):
    import subprocess
    rc, s3_out, _ = harness.check()
    host = subprocess.run([harness.HOST], capture_output=True, timeout=300)
    assert host.returncode == 0, host.stdout[-2000:]
    assert rc == 0, s3_out[-2000:]
    assert b"REFMISMATCH" not in s3_out and b"REFMISMATCH" not in host.stdout
    assert b"checked, reference mismatches: 0" in s3_out
    s3_lines, host_lines = s3_out.splitlines(), host.stdout.splitlines()
    assert len(s3_lines) == len(host_lines) > 100
    for a, b in zip(s3_lines, host_lines):
        assert a == b, "S3 and host differ:\n  S3:   %s\n  host: %s" % (a[:300], b[:300])


def test_inline_expf_is_the_library_expf_everywhere(harness):
    """kernels_xtensa.h's expf for the softmax (x <= 0) against the linked
    library's expf for every float of (-87.34, 0], on the host (the same C
    the S3 runs; check mode samples it on the S3 core)."""
    import subprocess
    r = subprocess.run([harness.HOST, "expall"], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:]
    every = 0xc2aeac4f - 0x80000000 + 1  # the bit patterns of -0.0 down to -87.3365
    assert b"expf_nonpos checked %d, mismatches: 0" % (every + 7) in r.stdout


def test_forward_matches_host_and_llama2c(harness, models_dir, golden_dir):
    model, tok = os.path.join(models_dir, "stories260K.bin"), os.path.join(models_dir, "tok512.bin")
    rc, s3_out, _ = harness.gen(model, tok, 256, logit_hash=True)
    assert rc == 0, s3_out[-2000:]
    hrc, host_out = harness.gen_host(model, tok, 256, logit_hash=True)
    assert hrc == 0
    s3_lines, host_lines = s3_out.splitlines(), host_out.splitlines()
    assert sum(1 for l in s3_lines if l.startswith(b"logits ")) == 256
    assert s3_lines == host_lines
    text = b"\n".join(l for l in s3_lines if not l.startswith(b"logits ")).decode()
    with open(os.path.join(golden_dir, "stories260K_t0.txt")) as f:
        golden = f.read()
    assert text.strip() == golden.strip()


def test_forward_int8_kv_cache_matches_host(harness, models_dir):
    model, tok = os.path.join(models_dir, "stories260K.bin"), os.path.join(models_dir, "tok512.bin")
    rc, s3_out, _ = harness.gen(model, tok, 96, kv="int8", logit_hash=True)
    hrc, host_out = harness.gen_host(model, tok, 96, kv="int8", logit_hash=True)
    assert rc == 0 and hrc == 0
    assert s3_out == host_out


def test_harness_detects_a_changed_rounding(harness, tmp_path):
    """The comparison can fail: with contraction on, GCC emits the fused madd.s,
    which rounds once, and the S3 output no longer equals the host's."""
    import subprocess
    flags = "-O2 -ffp-contract=fast -DLLM_NO_THREADS -Iusermod/llm -Wall -Wno-unused-function"
    elf = str(tmp_path / "harness.elf")
    r = subprocess.run(["make", "--no-print-directory", elf, "S3K_MOD_FLAGS=" + flags, "S3K_BUILD=" + str(tmp_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rc, out, _ = harness.run(harness.params("check"), elf=elf)
    host = subprocess.run([harness.HOST], capture_output=True, timeout=300)
    differing = [a for a, b in zip(out.splitlines(), host.stdout.splitlines()) if a != b]
    assert any(l.startswith(b"matmul_f32") for l in differing)
