"""An fp32 .llm file through the command line: llama2.c's output byte for byte,
a bounded context, bad flags."""
import os

import pytest

from mpy import cli


@pytest.mark.parametrize("flags,golden", [
    (["-t", "0"], "stories260K_t0.txt"),
    (["-t", "1.0", "-p", "0.9", "-s", "133742"], "stories260K_t1_p0.9_s133742.txt"),
])
def test_fp32_llm_file_is_token_identical_to_llama2c(llm_files, golden_dir, flags, golden):
    r = cli(llm_files[0], *flags)
    assert r.returncode == 0, r.stderr
    assert r.stdout == open(os.path.join(golden_dir, golden), "rb").read()


def test_bounded_ctx_stops_cleanly_with_a_message(llm_files):
    r = cli(llm_files[0], "-t", "0", "-n", "100", "-c", "32")
    assert r.returncode == 0
    assert b"context is full" in r.stderr
    full = cli(llm_files[0], "-t", "0", "-n", "32")
    assert r.stdout == full.stdout  # the first 32 positions are the same


def test_bad_kv_flag_is_a_usage_error(llm_files):
    r = cli(llm_files[0], "-k", "int4")
    assert r.returncode == 1 and b"Usage" in r.stderr
