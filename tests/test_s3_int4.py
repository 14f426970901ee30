"""The real stories15M in 4-bit weights on the emulated ESP32-S3 core: deployed into
ROMFS with `make deploy` (as a user does, over the emulated UART), it generates from
"Once upon a time" the same greedy tokens as the host firmware for the same file.

The firmware is the bench build (build/s3sim-bench: 8 MB heap, 16 MB ROMFS, as
`make bench-s3`), whose ROMFS holds the 8.6 MB file.  The S3 build takes the 4-bit
matmul's SIMD path (matmul_q4.c, LLM_Q4_PIE) for every matrix of the model, so the
test checks that path against the host's SSE2 one through a whole generation.
"""
import json
import os
import re
import subprocess
import sys
import time

import pytest

from devicetools import running_emulator
from host import convert, firmware as host_firmware

pytestmark = pytest.mark.s3

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_BUILD = os.path.join(REPO, "build", "s3sim-bench")
BENCH_ELF = os.path.join(BENCH_BUILD, "firmware.elf")
STEPS = 48

GREEDY = """
import llm, json
m = llm.load(%r)
print(json.dumps([t for _, t in m.tokens('Once upon a time', steps=%d, temperature=0)]))
"""


def make(*args, timeout=1800):
    r = subprocess.run(["make", "--no-print-directory"] + list(args), cwd=REPO, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, "make %s failed:\n%s\n%s" % (" ".join(args), r.stdout[-3000:], r.stderr[-3000:])
    return r


@pytest.fixture(scope="module")
def bench_firmware():
    # The same variables as the Makefile's bench-s3 target (S3_BENCH_VARS).
    make("-j2", "s3-firmware", "S3SIM_BUILD=" + BENCH_BUILD, "MICROPY_HEAP_SIZE=8000000", "ROMFS_BYTES=0x1000000")
    assert os.path.isfile(BENCH_ELF)
    return make("-s", "-f", "Makefile", "--eval", "print-%: ; @echo $($*)", "print-S3_QEMU").stdout.strip()


@pytest.fixture(scope="module")
def stories15m_int4(models_dir, tmp_path_factory):
    ckpt = os.path.join(models_dir, "stories15M.bin")
    if not os.path.exists(ckpt):
        pytest.fail("no stories15M.bin in the shared models")
    out = str(tmp_path_factory.mktemp("s15q4") / "stories15M_int4.llm")
    # Scale search rather than GPTQ: the same format and kernels, a conversion of seconds.
    convert.convert(ckpt, os.path.join(models_dir, "tokenizer.bin"), out, "int4", int4_method="search")
    return out


def test_stories15m_int4_deployed_with_make_deploy_generates_the_host_tokens(bench_firmware, stories15m_int4,
                                                                           tmp_path_factory, firmware):
    with running_emulator(BENCH_ELF, tmp_path_factory, "s3-int4", s3=True, qemu=bench_firmware) as port:
        t0 = time.monotonic()
        r = make("deploy", "PORT=" + port, "MODEL=" + stories15m_int4, timeout=3600)
        deploy_seconds = time.monotonic() - t0
        assert r.stdout.count("sha256 verified") == 1, r.stdout[-2000:]
        sys.stderr.write("make deploy of %d bytes took %.0f s\n" % (os.path.getsize(stories15m_int4), deploy_seconds))
        name = "/rom/" + os.path.basename(stories15m_int4)
        d = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "exec", GREEDY % (name, STEPS)],
                           capture_output=True, text=True, timeout=1800)
        assert d.returncode == 0, d.stderr[-2000:]
    on_device = json.loads(d.stdout.strip().splitlines()[-1])
    on_host = host_firmware.run_code(GREEDY % (stories15m_int4, STEPS))
    assert len(on_host) == STEPS and len(set(on_host)) > 10
    assert on_device == on_host
