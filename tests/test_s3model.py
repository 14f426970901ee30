"""The S3 time model (host/s3model.py) and the pipeline simulation under it
(host/s3prof.py), on hand-made inputs whose answers follow from the stated
formulas: compute + memory, the two-core split, bandwidths per memory and
cache line, overrides, the stall counts of small instruction sequences; and
the calibration against the one tok/s measured on a real chip."""
import json
import os
import subprocess
import sys

import pytest

from repo import REPO
from host import bench_s3, s3model, s3prof

CFG = dict(dim=64, hidden_dim=172, n_layers=5, n_heads=8, n_kv_heads=4, vocab_size=512, seq_len=512)
# No board in SCENARIOS is short of room for this.
SMALL = ("TEST", "octal_psram", 1 << 30, "sram", 1 << 30)


def entry(instr, weight_bytes, cfg=CFG, kv="f32", matmul=0, attention=0, mix=None, steps=(64, 256)):
    return {"instr_per_token": instr, "weight_bytes_per_token": weight_bytes, "file_bytes": weight_bytes,
            "config": dict(cfg), "kv_cache": kv, "steps": list(steps), "matmul_instr_per_token": matmul,
            "attention_instr_per_token": attention, "mix_per_token": mix or {}, "kernel_share": 1.0}


def test_compute_bound_is_instructions_over_clock():
    e = entry(240_000_000, 1000)     # 1 s of instructions at 240 MHz, CPI 1 (no stalls in the mix)
    r = s3model.estimate(e, SMALL)
    assert r["bound"][0] == "compute"
    assert r["cpi"] == 1.0
    assert r["compute_s"][0] == pytest.approx(1.0)
    assert r["memory_s"] < 1e-3
    assert r["tok_s_estimate"][0] == pytest.approx(1 / (1.0 + r["memory_s"]))


def test_memory_bound_is_bytes_over_bandwidth():
    e = entry(1000, 80_000_000)      # 80 MB of weights from octal PSRAM at 80 MB/s
    r = s3model.estimate(e, SMALL, bandwidth={"octal_psram": 80.0, "sram": 1e12})
    assert r["bound"] == ["memory", "memory"]
    assert r["memory_s"] == pytest.approx(1.0, rel=1e-6)
    assert r["tok_s_estimate"][0] == pytest.approx(1.0, rel=1e-4)
    # The KV cache counts too, at the bandwidth of where it lives.
    kv = s3model.kv_bytes_per_token(e)
    c = CFG
    positions = (64 + 255) / 2 + 1
    assert kv == pytest.approx(c["n_layers"] * positions * 2 * (c["dim"] * c["n_kv_heads"] // c["n_heads"]) * 4)
    r2 = s3model.estimate(e, ("T", "octal_psram", 1 << 30, "octal_psram", 1 << 30), bandwidth={"octal_psram": 80.0})
    assert r2["memory_s"] == pytest.approx((80_000_000 + kv) / 80e6)


def test_int8_kv_cache_reads_fewer_bytes():
    # Per position and layer: int8 keys and values plus a 4-byte scale per KV
    # head for each, against 4-byte floats.
    kv_dim = 32
    per_pos_q8, per_pos_f32 = 2 * kv_dim + 2 * 4 * 4, 2 * kv_dim * 4
    ratio = s3model.kv_bytes_per_token(entry(1, 1, kv="int8")) / s3model.kv_bytes_per_token(entry(1, 1))
    assert ratio == pytest.approx(per_pos_q8 / per_pos_f32)


def test_stalls_from_the_mix_raise_the_cpi():
    e = entry(1000, 1, mix={"stall_fp_4": 500, "stall_fp_3": 200, "branch_end": 100, "load_use": 50})
    assert s3model.cycles_per_token(e) == 1000 + 500 + 100 * s3model.CYCLES["branch_end"]
    assert s3model.cycles_per_token(e, {"fp_latency": 3, "load_use": 2}) == 1000 + 200 + 50 + 100
    with pytest.raises(ValueError):
        s3model.cycles_per_token(e, {"fp_latency": 7})


def test_two_cores_never_more_than_twice_one_core():
    for instr, wbytes in ((5e6, 1e3), (1e6, 1e6), (1e4, 1e7)):
        for matmul in (0, instr / 2, instr):
            for handoff in (0.0, 10.0, 1000.0):
                for min_work in (1, 64 * 1024, 1 << 40):
                    e = entry(instr, wbytes, matmul=matmul, attention=0)
                    r = s3model.estimate(e, SMALL, handoff_us=handoff, min_work=min_work)
                    one, two = r["tok_s_estimate"]
                    assert two <= 2 * one * (1 + 1e-12)


def test_split_follows_parallel_c():
    e = entry(1e6, 1e3, matmul=6e5, attention=2e5)
    # stories260K's largest matmul is the 512x64 classifier (32K multiply-adds):
    # nothing reaches 64K, and attention needs pos >= 511.
    assert s3model.split_fraction(e, min_work=64 * 1024) == (0.0, 0)
    r = s3model.estimate(e, SMALL, min_work=64 * 1024)
    assert r["tok_s_estimate"][1] == r["tok_s_estimate"][0]
    # Everything split: seven matmuls per layer, the classifier, every layer's attention.
    share, calls = s3model.split_fraction(e, min_work=1)
    assert share == pytest.approx(0.8)
    assert calls == 7 * CFG["n_layers"] + 1 + CFG["n_layers"]
    no_cost = s3model.estimate(e, SMALL, min_work=1, handoff_us=0.0)
    assert no_cost["compute_s"][1] == pytest.approx(no_cost["compute_s"][0] * (1 - 0.8 / 2))
    costly = s3model.estimate(e, SMALL, min_work=1, handoff_us=50.0)
    assert costly["compute_s"][1] == pytest.approx(no_cost["compute_s"][1] + calls * 50e-6)


def test_split_threshold_counts_multiply_adds():
    big = dict(CFG, dim=288, hidden_dim=768, n_layers=6, n_heads=6, n_kv_heads=6)
    e = entry(1e6, 1e3, cfg=big, matmul=1e6)
    share, calls = s3model.split_fraction(e, min_work=64 * 1024)
    # 288x288 = 82,944 >= 65,536: every matmul of a layer splits; the 512x288 classifier too.
    # Attention: 6 heads * (pos + 1) * 48 * 2 >= 65,536 from pos 113 on, which
    # is every position of 64..255 but 64..112.
    split_positions = [p for p in range(64, 256) if p >= 113]
    assert calls == pytest.approx(7 * 6 + 1 + 6 * len(split_positions) / 192)
    assert share == pytest.approx(1.0)


def test_time_is_compute_plus_memory():
    # The core stalls on every cache miss: no overlap, whichever is larger.
    for instr, wbytes in ((50e6, 1e3), (1e3, 50e6), (2e6, 1e6)):
        e = entry(instr, wbytes, matmul=instr / 2)
        for sc in s3model.SCENARIOS:
            r = s3model.estimate(e, sc, min_work=1)
            for cores in (0, 1):
                assert 1 / r["tok_s_estimate"][cores] == pytest.approx(r["compute_s"][cores] + r["memory_s"])


def test_slower_memory_always_costs_and_costs_the_same_on_two_cores():
    for e in (entry(50e6, 1e3), entry(1e3, 50e6)):
        for sc in s3model.SCENARIOS:
            line = s3model.board_cache_line(sc[0])
            base = s3model.estimate(e, sc, min_work=1)
            w_in = s3model.memory_of(sc[1])
            slower = s3model.estimate(e, sc, min_work=1, bandwidth={w_in: s3model.BANDWIDTH_MB_S[w_in][line] / 2})
            assert slower["compute_s"] == base["compute_s"]
            extra = slower["memory_s"] - base["memory_s"]
            assert extra > 0
            # The second core adds compute, not bandwidth.
            for cores in (0, 1):
                assert 1 / slower["tok_s_estimate"][cores] == pytest.approx(1 / base["tok_s_estimate"][cores] + extra)


def test_model_that_does_not_fit_is_marked():
    e = entry(1e6, 30 * 1024 * 1024)  # more than the largest ROMFS (LLM_S3_OCTAL's 20 MiB)
    rows = [s3model.estimate(e, sc) for sc in s3model.SCENARIOS]
    assert not any(r["fits"] for r in rows)
    assert s3model.estimate(entry(1e6, 100_000, kv="int8"), s3model.SCENARIOS[0])["fits"]


def insn(text):
    mnem, _, ops = text.partition(" ")
    return (mnem, [o.strip() for o in ops.split(",")] if ops else [])


def test_stall_simulation():
    chain = [insn("add.s f0, f0, f1"), insn("add.s f0, f0, f2"), insn("add.s f0, f0, f3")]
    # Each add waits for the previous one: latency - 1 cycles each time.
    assert s3prof.stall_cycles(chain, 4) == 2 * 3
    assert s3prof.stall_cycles(chain, 1) == 0
    independent = [insn("add.s f0, f0, f4"), insn("add.s f1, f1, f4"), insn("add.s f2, f2, f4"),
                   insn("add.s f3, f3, f4"), insn("add.s f0, f0, f4")]
    assert s3prof.stall_cycles(independent, 4) == 0
    assert s3prof.stall_cycles(independent, 5) == 1
    # A load read at once waits one cycle; a store reads its value operand.
    assert s3prof.stall_cycles([insn("l32i a2, a3, 0"), insn("add a4, a2, a2")], 4) == 1
    assert s3prof.stall_cycles([insn("mul.s f1, f1, f2"), insn("ssi f1, a2, 0")], 4) == 3
    ev = s3prof.block_events(chain + [insn("bnez a2, 40000000")])
    assert ev["fp"] == 3 and ev["branch"] == 1 and ev["branch_end"] == 1
    assert ev["stall_fp_4"] == 6


def test_idle_wait_is_left_out_of_the_counts():
    syms = [(0x1000, "llm_matmul_f32"), (0x2000, "mp_hal_stdin_rx_chr"), (0x3000, "mp_execute_bytecode")]
    sections = [(0x1000, 0x2000, "/x/llm/kernels.o"), (0x2000, 0x3000, "/x/board.o"), (0x3000, 0x4000, "/x/py/vm.o")]
    log = "1000 10 7\n2000 5 1000\n3000 3 2\ntotal 5076\n"
    p = bench_s3.Profile(log, sections, syms, None)
    assert p.total == 70 + 6
    assert p.idle == 5000
    assert p.objects["/x/llm/kernels.o"] == 70


def test_cli_json_markdown_and_overrides(tmp_path):
    bench = {"stories260K": {"f32": entry(2e6, 1_040_384), "int8": entry(3e6, 300_000)}}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "host", "s3-estimate", str(path)] + list(args),
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    r = run("--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["estimates"]) == 2 * len(s3model.SCENARIOS)
    assert data["calibration"]["measured"] == 19.13
    slow = json.loads(run("--json", "--bandwidth", "quad_flash=1").stdout)
    for a, b in zip(data["estimates"], slow["estimates"]):
        if s3model.memory_of(a["weights_in"]) == "quad_flash":
            assert b["memory_s"] > a["memory_s"]
        else:
            assert b["memory_s"] == a["memory_s"]
    text = run().stdout
    assert "estimate" in text.lower() and "19.13" in text
    md = run("--markdown").stdout
    assert "| stories260K | f32 |" in md and "estimate" in md
    bad = run("--bandwidth", "dram=5")
    assert bad.returncode != 0 and "unknown memory" in bad.stderr
    bad = run("--bandwidth", "octal_psram@48=5")
    assert bad.returncode != 0 and "line size" in bad.stderr
    bad = run("--bandwidth", "octal_psram=0")
    assert bad.returncode != 0 and "not positive" in bad.stderr


def test_targets_compare_figures_with_their_goals():
    fast = {"stories260K": {"f32": entry(1.5e6, 1_040_384), "int8_kv8": entry(0.61e6, 300_000, kv="int8")}}
    rows = s3model.estimate_all(fast)
    got = {label: met for label, _, _, met in s3model.targets(fast, rows)}
    assert got["fp32 exact, S3 instructions/token (measured)"] is True
    assert got["int8 + int8 KV, S3 instructions/token (measured)"] is False
    # No int8 entry in the bench: its targets are left out, not reported as met.
    assert not any(label.startswith("int8,") for label in got)
    # A tok/s target follows the estimate of its own row.
    one_core = "int8 + int8 KV, octal PSRAM, one core (estimate)"
    row = [r for r in rows if r["config"] == "int8_kv8" and r["weights_in"] == "octal_psram"][0]
    assert got[one_core] == (row["tok_s_estimate"][0] >= 100)


# ---- calibration against the seed's measured 19.13 tok/s -------------------

def test_calibration_within_ten_percent():
    cal = s3model.calibrate()
    assert cal["measured"] == 19.13
    assert abs(cal["ratio"] - 1) <= 0.10, cal


def test_calibration_rejects_the_larger_of_compute_and_memory():
    # The model before: a token takes max(compute, memory).  On the seed's
    # board that is 1.3x the measured figure, which the test above rejects.
    cal = s3model.calibrate(combine=max)
    assert abs(cal["ratio"] - 1) > 0.10, cal


def test_calibration_does_not_hinge_on_the_assumed_cpi():
    fix = s3model.load_calibration()
    for cpi in (1.3, 1.4, 1.5, 1.6, 1.7):
        fix["cpi"]["value"] = cpi
        assert abs(s3model.calibrate(fix)["ratio"] - 1) <= 0.10, cpi
        assert abs(s3model.calibrate(fix, combine=max)["ratio"] - 1) > 0.10, cpi


def test_calibration_fixture_is_consistent_and_sourced(tmp_path):
    fix = s3model.load_calibration()
    for key in ("measured_tok_s", "model", "instr_per_token", "per_position_law", "breakdown",
                "weight_bytes_per_token", "board", "two_cores", "cpi"):
        assert fix[key]["source"], key
    # The per-position law averages to the stated mean over positions 1-255,
    # and meets its stated points.
    law = fix["per_position_law"]
    first, end = fix["instr_per_token"]["positions"]
    mean = sum(law["base"] + law["per_position"] * p for p in range(first, end)) / (end - first)
    assert mean == pytest.approx(fix["instr_per_token"]["value"], rel=0.01)
    for pos, instr in law["points"].items():
        assert law["base"] + law["per_position"] * int(pos) == pytest.approx(instr, rel=0.015)
    # The parts are the whole but for rmsnorm, RoPE, SwiGLU and the sampler's sort.
    parts = sum(fix["breakdown"]["value"].values())
    assert 0.9 < parts / fix["instr_per_token"]["value"] <= 1.0
    # The bytes a token reads: stories260K's fp32 matrices once, as bench-s3 counts them.
    models = os.path.join(REPO, "..", "shared", "models")
    f32 = str(tmp_path / "stories260K_f32.llm")
    subprocess.run([sys.executable, "-m", "host", "convert", os.path.join(models, "stories260K.bin"),
                    os.path.join(models, "tok512.bin"), f32], cwd=REPO, check=True, capture_output=True)
    facts = bench_s3.model_facts(f32)
    assert facts["weight_bytes_per_token"] == fix["weight_bytes_per_token"]["value"]
    assert facts["config"] == fix["model"]["config"]


# ---- bandwidths per memory and cache line ----------------------------------

def test_octal_psram_measurements_fit_one_refill_time_plus_a_data_rate():
    fit = s3model._per_line(s3model._OCT_OVERHEAD_NS, s3model._OCT_DDR_MB_S)
    for n in s3model.LINE_SIZES:
        assert fit[n] == pytest.approx(s3model.BANDWIDTH_MB_S["octal_psram"][n], rel=0.02)


def test_bandwidths_grow_with_the_line_and_follow_their_derivations():
    for mem, per_line in s3model.BANDWIDTH_MB_S.items():
        assert set(per_line) == set(s3model.LINE_SIZES) and s3model.BANDWIDTH_SOURCES[mem]
        values = [per_line[n] for n in s3model.LINE_SIZES]
        assert values == sorted(values)
    # Quad SPI at 80 MHz: 40 MB/s of data at most; a 32-byte line after 20
    # clocks of command, address and dummy: 32 / (250 ns + 800 ns).
    assert s3model.BANDWIDTH_MB_S["quad_psram"][32] == pytest.approx(32 / 1.05, abs=0.1)
    assert all(v < 40 for v in s3model.BANDWIDTH_MB_S["quad_flash"].values())
    # Octal flash in single data rate: slower than octal PSRAM at every line, faster than quad.
    for n in s3model.LINE_SIZES:
        assert s3model.BANDWIDTH_MB_S["quad_flash"][n] < s3model.BANDWIDTH_MB_S["octal_flash"][n] \
            < s3model.BANDWIDTH_MB_S["octal_psram"][n]


def test_cache_line_comes_from_the_board(tmp_path, monkeypatch):
    for name, text in (("B16", "CONFIG_ESP32S3_DATA_CACHE_LINE_16B=y\n"),
                       ("B64", "X=1\nCONFIG_ESP32S3_DATA_CACHE_LINE_64B=y\n"),
                       ("NONE", "CONFIG_SPIRAM=y\n# CONFIG_ESP32S3_DATA_CACHE_LINE_64B=y\n"),
                       ("TWO", "CONFIG_ESP32S3_DATA_CACHE_LINE_16B=y\nCONFIG_ESP32S3_DATA_CACHE_LINE_64B=y\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "sdkconfig.board").write_text(text)
    monkeypatch.setattr(s3model, "ESP32_BOARDS", str(tmp_path))
    assert s3model.board_cache_line("B16") == 16
    assert s3model.board_cache_line("B64") == 64
    assert s3model.board_cache_line("NONE") == 32      # ESP-IDF's default
    assert s3model.board_cache_line("MISSING") == 32
    with pytest.raises(ValueError):
        s3model.board_cache_line("TWO")
    # The estimate takes the board's line.
    e = entry(1e3, 84_000_000)
    r16 = s3model.estimate(e, ("B16", "octal_psram", 1 << 30, "octal_psram", 1 << 30))
    r64 = s3model.estimate(e, ("B64", "octal_psram", 1 << 30, "octal_psram", 1 << 30))
    assert (r16["line"], r64["line"]) == (16, 64)
    assert r64["memory_s"] == pytest.approx((84e6 + s3model.kv_bytes_per_token(e)) / 84e6)
    assert r16["memory_s"] == pytest.approx(r64["memory_s"] * 84 / 37)


def test_repository_boards_cache_lines():
    # The PSRAM boards stream with 64-byte lines; the board without PSRAM keeps ESP-IDF's 32.
    assert s3model.board_cache_line("LLM_S3") == 32
    assert s3model.board_cache_line("LLM_S3_SPIRAM") == 64
    assert s3model.board_cache_line("LLM_S3_SPIRAM_OCT") == 64


def test_bandwidth_override_for_one_line_or_all():
    over = {"octal_psram@64": 70.0, "quad_flash": 20.0}
    assert s3model.bandwidth_mb_s("octal_psram", 64, over) == 70.0
    assert s3model.bandwidth_mb_s("octal_psram", 32, over) == 58.0
    for n in s3model.LINE_SIZES:
        assert s3model.bandwidth_mb_s("quad_flash", n, over) == 20.0


def test_bandwidths_json_from_bench_board(tmp_path):
    path = tmp_path / "board.json"
    path.write_text(json.dumps({"board": "LLM_S3_SPIRAM_OCT", "cache_line": 64,
                                "bandwidth_mb_s": {"quad_flash": 21.5, "octal_psram": 66.0}}))
    assert s3model.bandwidths_from_json(str(path)) == {"quad_flash@64": 21.5, "octal_psram@64": 66.0}
    path.write_text(json.dumps({"bandwidth_mb_s": {"octal_psram": 66.0}}))
    assert s3model.bandwidths_from_json(str(path)) == {"octal_psram": 66.0}
    for bad in ({}, {"bandwidth_mb_s": {"dram": 5}}, {"bandwidth_mb_s": {"sram": -1}}):
        path.write_text(json.dumps(bad))
        with pytest.raises(SystemExit):
            s3model.bandwidths_from_json(str(path))


def test_update_doc_rewrites_the_readme_and_the_doc_sections(tmp_path):
    bench = {"stories260K": {"f32": entry(2e6, 1_040_384), "int8": entry(1e6, 300_000)},
             "stories15M": {"int8": dict(entry(20e6, 15_822_252), file_bytes=16_512_800, label="stories15M")}}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nbefore\n%s\nold table\n%s\nafter\n" % (s3model.README_BEGIN, s3model.README_END))
    doc = tmp_path / "doc.md"
    doc.write_text("top\n%s\nold\n%s\nbottom\n" % (s3model.BEGIN, s3model.END))
    plain = tmp_path / "plain.md"
    plain.write_text("nothing generated here\n")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "host", "s3-estimate", str(path)] + list(args),
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    r = run("--update-doc", str(readme), "--update-doc", str(doc))
    assert r.returncode == 0, r.stderr
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# x\n\nbefore\n") and text.endswith("after\n")
    assert "| stories260K, fp32, fp32 KV cache | 2.000 M |" in text
    assert "19.13" in text and "33 tok/s" in text and "Calibration:" in text
    # stories15M's int8 file fits only the octal-flash board's 20 MiB ROMFS.
    line = [ln for ln in text.splitlines() if ln.startswith("| stories15M, int8, fp32 KV cache | 20.000 M |")]
    assert len(line) == 1 and "from octal flash" in line[0] and "quad" not in line[0], line
    d = doc.read_text()
    assert "old" not in d.split(s3model.BEGIN)[1] and d.endswith("bottom\n")
    assert "| `octal_psram` | 37 | 58 | 84 |" in d
    # Regenerating is idempotent: the same JSON gives the same files.
    before = (readme.read_text(), doc.read_text())
    assert run("--update-doc", str(readme), "--update-doc", str(doc)).returncode == 0
    assert (readme.read_text(), doc.read_text()) == before
    bad = run("--update-doc", str(plain))
    assert bad.returncode != 0 and "no generated section" in bad.stderr


def placed_entry(layers, classifier, kv=100_000, act=50_000):
    e = entry(1e6, layers + classifier)
    e.update(layer_bytes=layers, classifier_bytes=classifier, load_kv_bytes=kv, load_activation_bytes=act)
    return e


def test_ram_copy_takes_the_bigger_part_that_fits_as_llm_load_does():
    heap = 8 << 20
    room = heap - 100_000 - 50_000 - s3model.RAM_RESERVE
    assert s3model.ram_copy(placed_entry(3_000_000, 5_000_000), heap) == ("classifier", 5_000_000)
    assert s3model.ram_copy(placed_entry(5_000_000, 3_000_000), heap) == ("layers", 5_000_000)
    # The bigger part does not fit: the smaller one is copied; neither: none.
    assert s3model.ram_copy(placed_entry(3_000_000, room + 1), heap) == ("layers", 3_000_000)
    assert s3model.ram_copy(placed_entry(3_000_000, room), heap) == ("classifier", room)
    assert s3model.ram_copy(placed_entry(room + 1, room + 2), heap) is None
    # A bench JSON from before the sizes were recorded: no copy assumed.
    assert s3model.ram_copy(entry(1e6, 1000), heap) is None


def test_ram_copy_reads_the_copied_part_at_the_heaps_speed():
    e = placed_entry(3_000_000, 5_000_000)
    flash = ("B", "quad_flash", 10 << 20, "octal_psram", 8 << 20)
    default = ("B", "quad_flash" + s3model.RAM_COPY, 10 << 20, "octal_psram", 8 << 20)
    a, b = s3model.estimate(e, flash), s3model.estimate(e, default)
    assert (a["ram_copy"], b["ram_copy"]) == (None, "classifier")
    bw = b["bandwidth_mb_s"]
    assert bw["octal_psram"] > bw["quad_flash"]
    saved = 5_000_000 / (bw["quad_flash"] * 1e6) - 5_000_000 / (bw["octal_psram"] * 1e6)
    assert a["memory_s"] - b["memory_s"] == pytest.approx(saved)
    assert a["compute_s"] == b["compute_s"]
    # The copy takes heap: a KV cache that fitted next to the file alone may not.
    tight = ("B", "quad_flash" + s3model.RAM_COPY, 10 << 20, "octal_psram", 5_000_000 + 400_000)
    assert s3model.estimate(e, tight)["ram_copy"] == "layers"


def test_ram_reserve_is_llm_loads():
    with open(os.path.join(REPO, "app", "llm", "model.py")) as f:
        text = f.read()
    assert "_RAM_RESERVE = %d * 1024\n" % (s3model.RAM_RESERVE // 1024) in text
