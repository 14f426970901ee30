"""python3 -m host bench-board: llm.bench() on a board through mpremote, its
figures next to the S3 time model's estimate, and back into s3-estimate.

On the emulated ESP32-S3 core, started as a user starts it (make emulator-s3),
with the model deployed to its ROMFS by the command itself.  The emulator's
times are wall time on a shared machine: no test here bounds them, only that
they were measured and labelled as the emulator's.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from repo import REPO, make_ok
from host import bench_board, s3model
from host.fileformat import CONFIG_NAMES

SHARED_MODELS = os.path.join(REPO, "..", "shared", "models")
CONFIG = dict(dim=64, hidden_dim=172, n_layers=5, n_heads=8, n_kv_heads=4, vocab_size=512, seq_len=512)


def result(heap, file_bytes=288096, file_in="mapped", kv="int8", psram=None):
    return {"platform": "s3sim", "machine": "QEMU sim", "heap_bytes": heap, "file_bytes": file_bytes,
            "file_in": file_in, "flash": {"bytes": 1 << 18, "seconds": 0.01, "mb_s": 26.2},
            "heap": {"bytes": 1 << 16, "seconds": 0.001, "mb_s": 65.5, "psram": heap > 512 * 1024 if psram is None
                     else psram},
            "cached_copy_mb_s": 900.0, "threads": 1,
            "tokens": {"positions": [64, 256], "timed": 192, "seconds": 2.0, "tok_s": 96.0, "stop": "steps",
                       "kv": kv, "config": [CONFIG[k] for k in CONFIG_NAMES]}}


def bench_entry(file_bytes, kv="int8"):
    return {"instr_per_token": 1.0e6, "weight_bytes_per_token": 280_000, "file_bytes": file_bytes,
            "config": dict(CONFIG), "kv_cache": kv, "steps": [64, 256], "matmul_instr_per_token": 3e5,
            "attention_instr_per_token": 4e5, "mix_per_token": {}, "kernel_share": 1.0}


def test_board_is_guessed_from_the_heap():
    assert bench_board.guess_board(result(250_000)) == "LLM_S3"
    assert bench_board.guess_board(result(2_000_000)) == "LLM_S3_SPIRAM"
    assert bench_board.guess_board(result(8_000_000)) == "LLM_S3_SPIRAM_OCT"


def test_measured_bandwidths_are_named_by_the_board_and_estimated_for_it():
    bench = {"stories260K": {"int8_kv8": bench_entry(288096), "int8": bench_entry(288096, kv="f32")}}
    r = result(8_000_000)
    cmp = bench_board.compare(r, "LLM_S3_OCTAL", "octal_flash", bench, "int8")
    # The flash read is the module's flash, the heap is the board's PSRAM.
    assert cmp["bandwidth_mb_s"] == {"octal_flash": 26.2, "octal_psram": 65.5}
    assert cmp["entry"] == ("stories260K", "int8_kv8") and cmp["weights_in"] == "octal_flash"
    sc = [s for s in s3model.SCENARIOS if s[:2] == ("LLM_S3_OCTAL", "octal_flash")][0]
    est = s3model.estimate(bench["stories260K"]["int8_kv8"], sc)["tok_s_estimate"][0]
    assert cmp["rows"][0][1] == "96.00" and cmp["rows"][0][2].startswith("%.1f " % est)
    # Without PSRAM the heap is internal SRAM; another file size has no estimate.
    cmp = bench_board.compare(result(250_000, file_bytes=1234), "LLM_S3", "quad_flash", bench, "int8")
    assert cmp["bandwidth_mb_s"] == {"quad_flash": 26.2, "sram": 65.5} and cmp["entry"] is None
    assert "no bench-s3 figures" in cmp["rows"][0][2]


@pytest.mark.s3
def test_bench_board_on_the_emulated_s3(tmp_path):
    make_ok("s3-firmware", timeout=1800, jobs=2)
    model = tmp_path / "stories260K_int8.llm"
    subprocess.run([sys.executable, "-m", "host", "convert", os.path.join(SHARED_MODELS, "stories260K.bin"),
                    os.path.join(SHARED_MODELS, "tok512.bin"), str(model), "--int8"], cwd=REPO, check=True,
                   capture_output=True)
    bench_json = tmp_path / "bench-s3.json"
    bench_json.write_text(json.dumps({"stories260K": {"int8_kv8": bench_entry(os.path.getsize(model))}}))
    out_json = tmp_path / "board.json"
    port = re.search(r"^PORT=(\S+)", make_ok("emulator-s3").stdout, re.M).group(1)
    try:
        r = subprocess.run([sys.executable, "-m", "host", "bench-board", port, "--model", str(model), "--kv", "int8",
                            "--ctx", "256", "--steps", "160", "--skip", "32", "--bench-json", str(bench_json),
                            "--json", str(out_json)], cwd=REPO, capture_output=True, text=True, timeout=1200)
    finally:
        make_ok("emulator-s3-stop")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sha256 verified" in r.stdout + r.stderr
    assert "emulator wall time" in r.stdout
    data = json.loads(out_json.read_text())
    res = data["result"]
    assert res["platform"] == "s3sim" and data["emulator"] is True
    assert res["file_in"] == "mapped" and res["file_bytes"] == os.path.getsize(model)
    assert res["tokens"]["positions"] == [32, 160] and res["tokens"]["timed"] == 128
    assert res["tokens"]["tok_s"] > 0 and res["flash"]["mb_s"] > 0 and res["heap"]["mb_s"] > 0
    # The 250 KB heap of the default build is an S3 without PSRAM.
    assert data["board"] == "LLM_S3" and data["cache_line"] == 32 and res["heap"]["psram"] is False
    assert data["bandwidth_mb_s"] == {"quad_flash": res["flash"]["mb_s"], "sram": res["heap"]["mb_s"]}
    # The table: measured next to the model's estimate for this file on this board.
    sc = [s for s in s3model.SCENARIOS if s[:2] == ("LLM_S3", "quad_flash")][0]
    est = s3model.estimate(bench_board.find_entry(json.loads(bench_json.read_text()), res, "int8")[2], sc)
    assert "| tokens/s, 1 core (measured: positions 32-159) | %.2f | %.1f (" % (
        res["tokens"]["tok_s"], est["tok_s_estimate"][0]) in r.stdout
    assert "| flash, the model file read in place, MB/s | %.1f | 30.5 (`quad_flash` at 32-byte lines) |" % (
        res["flash"]["mb_s"]) in r.stdout
    # And back into the estimate.
    est = subprocess.run([sys.executable, "-m", "host", "s3-estimate", str(bench_json), "--json", "--bandwidths",
                          str(out_json)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert est.returncode == 0, est.stderr
    assert "emulator wall time" in est.stderr
    bw = json.loads(est.stdout)["assumptions"]["bandwidth_mb_s"]
    assert bw["quad_flash"]["32"] == res["flash"]["mb_s"]
    assert bw["quad_flash"]["64"] == s3model.BANDWIDTH_MB_S["quad_flash"][64]


def test_llm_bench_on_the_host_firmware(tmp_path):
    # The on-board half alone, on the host firmware: the model file is
    # memory-mapped there (as ROMFS is on a chip), so both reads are measured.
    from host import firmware
    model = tmp_path / "stories260K_int8.llm"
    subprocess.run([sys.executable, "-m", "host", "convert", os.path.join(SHARED_MODELS, "stories260K.bin"),
                    os.path.join(SHARED_MODELS, "tok512.bin"), str(model), "--int8"], cwd=REPO, check=True,
                   capture_output=True)
    r = firmware.run_code("import llm, json\nprint(json.dumps(llm.bench(%r, steps=40, skip=8, kv='int8')))"
                          % str(model), heapsize="16M")
    assert r["file_in"] == "mapped" and r["file_bytes"] == os.path.getsize(model)
    chunk = r["chunk"]
    assert r["flash"]["bytes"] == r["file_bytes"] // chunk * chunk
    assert r["heap"]["bytes"] == r["flash"]["bytes"] and r["heap"]["psram"] is True   # a 16 MB heap
    tok = r["tokens"]
    assert tok["positions"] == [8, 40] and tok["timed"] == 32 and tok["stop"] == "steps" and tok["kv"] == "int8"
    assert dict(zip(CONFIG_NAMES, tok["config"])) == CONFIG
    assert tok["seconds"] > 0 and tok["tok_s"] == pytest.approx(32 / tok["seconds"])
    for part in (r["flash"], r["heap"]):
        assert part["mb_s"] == pytest.approx(part["bytes"] / part["seconds"] / 1e6)
    # Nothing to time: said before anything runs.
    for args in ("steps=2", "steps=40, skip=0", "steps=40, skip=39", "steps=40, skip=30, ctx=20"):
        with pytest.raises(RuntimeError, match="ValueError"):
            firmware.run_code("import llm\nllm.bench(%r, %s)" % (str(model), args), heapsize="16M")
