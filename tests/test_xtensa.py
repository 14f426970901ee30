"""The pure-C kernels compile warning-free for a 32-bit Xtensa target.

Runs host/xtensa-check.sh (Debian's xtensa-lx106-elf-gcc + picolibc). Where the
cross compiler is not installed the tests are skipped, except under CI (CI set
in the environment), where a missing compiler is a failure: CI must install
gcc-xtensa-lx106 and picolibc-xtensa-lx106-elf.
"""

import os
import shutil
import subprocess
from pathlib import Path

from repo import REPO

import pytest

ROOT = Path(REPO)
SCRIPT = ROOT / "host" / "xtensa-check.sh"
SPECS = Path("/usr/lib/xtensa-lx106-elf/picolibc.specs")
INSTALL = "apt-get install gcc-xtensa-lx106 picolibc-xtensa-lx106-elf"

GOOD_KERNEL = r"""
#include <math.h>
#include <stddef.h>
#include <stdint.h>

float dot_q8(const int8_t *a, const int8_t *b, size_t n, float sa, float sb) {
    int32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += (int32_t)a[i] * (int32_t)b[i];
    }
    return (float)acc * sa * sb;
}

void rope(float *q, size_t dim, size_t pos, size_t head_size) {
    for (size_t i = 0; i < dim; i += 2) {
        float freq = 1.0f / powf(10000.0f, (float)(i % head_size) / (float)head_size);
        float c = cosf((float)pos * freq), s = sinf((float)pos * freq);
        float a = q[i], b = q[i + 1];
        q[i] = a * c - b * s;
        q[i + 1] = a * s + b * c;
    }
}

float norm_softmax(float *x, size_t n) {
    float m = x[0], sum = 0.0f, ss = 0.0f;
    for (size_t i = 1; i < n; i++) {
        if (x[i] > m) {
            m = x[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
        ss += x[i] * x[i];
    }
    return sqrtf(ss) / sum;
}
"""

# `x * 0.5` promotes x to double: exactly the mistake the check is there for.
DOUBLE_PROMOTION = r"""
float half(float x) {
    return x * 0.5;
}
"""

# Uses py/ headers: must be skipped, not compiled (it would not compile here).
BINDING = r"""
#include "py/runtime.h"
int binding_only;
"""


def _have_toolchain():
    return shutil.which("xtensa-lx106-elf-gcc") is not None and SPECS.is_file()


@pytest.fixture(scope="module")
def toolchain():
    if not _have_toolchain():
        if os.environ.get("CI"):
            pytest.fail("Xtensa cross compiler missing; CI must run: " + INSTALL)
        pytest.skip("Xtensa cross compiler not installed (" + INSTALL + ")")


def run_check(*args, env=None):
    return subprocess.run(
        ["sh", str(SCRIPT), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.usefixtures("toolchain")
def test_usermod_kernels_compile_for_xtensa():
    kernel_dir = ROOT / "usermod" / "llm"
    assert kernel_dir.is_dir(), "usermod/llm is missing"
    r = run_check()  # default directory is usermod/llm
    assert r.returncode == 0, r.stdout + r.stderr
    assert "compiled cleanly" in r.stdout
    # Binding files are never compiled by this check.
    for name in ("modllm.c",):
        if (kernel_dir / name).exists():
            assert f"ok      {name}" not in r.stdout


@pytest.mark.usefixtures("toolchain")
def test_clean_kernel_passes(tmp_path):
    (tmp_path / "kernel.c").write_text(GOOD_KERNEL)
    r = run_check(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok      kernel.c" in r.stdout
    assert "1 file(s) compiled cleanly" in r.stdout


@pytest.mark.usefixtures("toolchain")
def test_double_promotion_fails(tmp_path):
    (tmp_path / "kernel.c").write_text(GOOD_KERNEL)
    (tmp_path / "bad.c").write_text(DOUBLE_PROMOTION)
    r = run_check(tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "FAILED  bad.c" in r.stderr
    assert "double-promotion" in r.stderr


@pytest.mark.usefixtures("toolchain")
def test_bindings_are_skipped(tmp_path):
    (tmp_path / "kernel.c").write_text(GOOD_KERNEL)
    (tmp_path / "modllm.c").write_text(BINDING)
    (tmp_path / "mphelpers.c").write_text("this is not C\n")
    (tmp_path / "glue.c").write_text(BINDING)
    r = run_check(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 file(s) compiled cleanly" in r.stdout
    for name in ("modllm.c", "mphelpers.c", "glue.c"):
        assert name in r.stdout  # listed as skipped
        assert f"ok      {name}" not in r.stdout


@pytest.mark.usefixtures("toolchain")
def test_empty_dir_fails(tmp_path):
    r = run_check(tmp_path)
    assert r.returncode != 0
    assert "no pure-C kernel files" in r.stderr


def test_missing_compiler_is_explained(tmp_path):
    # Runs with or without the toolchain installed.
    (tmp_path / "kernel.c").write_text(GOOD_KERNEL)
    env = dict(os.environ, XTENSA_CC="xtensa-no-such-gcc")
    r = run_check(tmp_path, env=env)
    assert r.returncode != 0
    assert INSTALL in r.stderr
