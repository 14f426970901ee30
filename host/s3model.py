"""The ESP32-S3 time model: estimated tokens per second from measured S3 instructions.

Input: the JSON of `python3 -m host bench-s3 --json` (instructions per token
counted on the emulated S3 core, their mix, the model's config and the weight
bytes one token reads).  For each board and each place the weights can live,
on one core and on two, a token takes the SUM of two times (no overlap):

  compute = cycles / clock, cycles = instructions x 1 (single issue) + stalls
            (FP results read too soon, loads read at once, taken redirects),
            counted from the measured instruction mix with the latencies in
            CYCLES;
  memory  = bytes streamed per token / bandwidth of where they live
            (weights: every matrix once per token; the KV cache read so far),
            with the bandwidths of BANDWIDTH_MB_S at the board's data-cache
            line size (its sdkconfig.board).

Why a sum: the S3's core is in order and stalls on every data-cache miss until
the line arrives, and ESP-IDF's defaults prefetch nothing, so no instruction
runs while a line is fetched.  Checked against the one figure measured on a
real chip (DaveBben's esp32-llm, 19.13 tok/s: calibration/seed-esp32-llm.json
beside this file, tests/test_s3model.py): the sum gives it within 10%, the
larger of the two (the model before) 1.3x too fast.

Two cores: the split of usermod/llm/parallel.c, as it is: a matmul or an
attention layer of at least MIN_WORK multiply-adds gives half its rows
(heads) to the other core, which costs HANDOFF_US per split call; the rest
runs on one core.  The second core adds compute, not bandwidth: flash and
PSRAM sit on one bus (the MSPI controller), so the memory time stays.

Every figure it prints is an estimate: no part of it has run on a chip.  The
dicts below are the assumptions; replace them with measured ones
(--bandwidth NAME=MB/s, --bandwidths bench-board.json, --handoff-us, ...).

    python3 -m host s3-estimate build/bench-s3.json [--json | --markdown]
    python3 -m host s3-estimate build/bench-s3.json --update-doc docs/s3-performance.md --update-doc README.md
"""
import argparse
import json
import os
import re
import sys

from host.paths import ESP32_BOARDS, REPO, llm_sources

CLOCK_MHZ = 240.0
CALIBRATION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibration", "seed-esp32-llm.json")

# Cycles an event costs on the S3's LX7 core (single issue, one instruction
# per cycle when nothing stalls).  Assumptions, not measurements:
CYCLES = {
    # FP arithmetic issues one per cycle (about 238 M float adds or
    # multiplies per second at 240 MHz, published benchmarks), but a result
    # read by another instruction d instructions later waits fp_latency - d
    # cycles.  4: Espressif's esp-dsp benchmark of the ESP32's assembly dot
    # product, one dependent madd.s per element, takes 1047 cycles for 256
    # elements, about 4 cycles per element.
    "fp_latency": 4,
    # A load whose result the very next instruction uses (internal SRAM or
    # a cache hit).
    "load_use": 1,
    # A block that ends in a conditional branch, jump, call or return: about
    # half the branches taken, 2 cycles each.  Zero-overhead loops cost none.
    "branch_end": 1.0,
}

# Sustained read bandwidth through the S3's data cache, MB/s, of each memory
# at each cache-line size (bytes).  A line refill costs a fixed time (command,
# address, dummy cycles, the controller's own turn-around) plus the line at
# the bus's data rate, so longer lines stream faster.
LINE_SIZES = (16, 32, 64)
SPI_MHZ = 80.0


def _per_line(overhead_ns, data_mb_s):
    """{line bytes: MB/s} for a refill of overhead_ns plus the line at data_mb_s."""
    return {n: round(n / (overhead_ns * 1e-3 + n / data_mb_s), 1) for n in LINE_SIZES}


# Octal PSRAM, 80 MHz DDR: published measurements of reads through the cache
# (project-x51/esp32-s3-memorycopy, issue #2): 37 / 58 / 84 MB/s at 16 / 32 /
# 64-byte lines, which a refill of 328 ns plus the line at 147 MB/s fits.
_OCT_OVERHEAD_NS, _OCT_DDR_MB_S = 328.0, 147.0
# Quad SPI (flash in QIO, PSRAM in quad mode), 80 MHz, 4 bits a clock: a
# fast-read-quad (0xEB) refill sends an 8-clock command, a 24-bit address in
# 6 clocks and 6 mode/dummy clocks (20 clocks, 250 ns), then 2 clocks a byte.
# No published measurement found; adding the controller time that octal PSRAM
# shows beyond its own protocol (about 170 ns) gives 26 MB/s at 32-byte lines,
# the low end; this table takes the protocol alone.
_QUAD_OVERHEAD_NS, _QUAD_MB_S = 20 * 1e3 / SPI_MHZ, 4 * SPI_MHZ / 8

BANDWIDTH_MB_S = {
    "quad_flash": _per_line(_QUAD_OVERHEAD_NS, _QUAD_MB_S),
    "quad_psram": _per_line(_QUAD_OVERHEAD_NS, _QUAD_MB_S),
    "octal_psram": {16: 37.0, 32: 58.0, 64: 84.0},
    # ESP-IDF's default octal-flash mode is single data rate: the line moves at
    # half octal PSRAM's rate, after the same refill time.
    "octal_flash": _per_line(_OCT_OVERHEAD_NS, _OCT_DDR_MB_S / 2),
    # Internal SRAM: one 32-bit load per cycle at 240 MHz, no cache.
    "sram": {n: 960.0 for n in LINE_SIZES},
}
BANDWIDTH_SOURCES = {
    "quad_flash": "derived: 0xEB fast read quad at 80 MHz, 20 clocks of command/address/dummy + 2 clocks a byte "
                  "(no published measurement; with octal PSRAM's extra controller time, 26 MB/s at 32 B)",
    "quad_psram": "derived: as quad flash (quad-mode PSRAM reads with 0xEB and 6 wait clocks)",
    "octal_psram": "measured: project-x51/esp32-s3-memorycopy issue #2, 80 MHz DDR (fit: 328 ns a line + 147 MB/s)",
    "octal_flash": "derived: ESP-IDF's default octal flash is single data rate: 328 ns a line + 73.5 MB/s",
    "sram": "derived: one 32-bit load a cycle at 240 MHz",
}
DEFAULT_LINE = 32   # ESP-IDF's default data-cache line on the S3 (CONFIG_ESP32S3_DATA_CACHE_LINE_32B)


def board_cache_line(board):
    """The data-cache line size, bytes, that a board's sdkconfig.board sets
    (CONFIG_ESP32S3_DATA_CACHE_LINE_16B/_32B/_64B=y), ESP-IDF's 32 if none."""
    path = os.path.join(ESP32_BOARDS, board, "sdkconfig.board")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return DEFAULT_LINE
    found = re.findall(r"^CONFIG_ESP32S3_DATA_CACHE_LINE_(16|32|64)B=y\s*$", text, re.M)
    if len(found) > 1:
        raise ValueError("%s sets %d data-cache line sizes" % (path, len(found)))
    return int(found[0]) if found else DEFAULT_LINE


def bandwidth_mb_s(memory, line, overrides=None):
    """MB/s of a memory at a line size: an override for that line
    ("octal_psram@64"), else one for every line ("octal_psram"), else the table."""
    overrides = overrides or {}
    for key in ("%s@%d" % (memory, line), memory):
        if key in overrides:
            return overrides[key]
    return BANDWIDTH_MB_S[memory][line]


# A weights-in place with this suffix: the file is read in place from that
# memory, and llm.load's default copy goes to the KV cache's memory.
RAM_COPY = "+ram"
# Heap that llm.load leaves free when it copies by default (app/llm/model.py's
# _RAM_RESERVE; tests/test_s3model.py checks that they agree).
RAM_RESERVE = 256 * 1024


def memory_of(weights_in):
    """The memory a scenario's weights stream from: "quad_flash+ram" -> "quad_flash"."""
    return weights_in[:-len(RAM_COPY)] if weights_in.endswith(RAM_COPY) else weights_in


def ram_copy(entry, heap):
    """(part, bytes) that llm.load(place=None) copies from a ROMFS mount into a
    heap of heap bytes, or None: the bigger of the layers and the classifier
    that fits next to the KV cache, the activations and RAM_RESERVE (the rule
    of app/llm/model.py's _choose_copy, with the sizes the device reported)."""
    if "classifier_bytes" not in entry or "load_kv_bytes" not in entry:
        return None
    room = heap - entry["load_kv_bytes"] - entry["load_activation_bytes"] - RAM_RESERVE
    parts = [(n, entry[n + "_bytes"]) for n in ("layer", "classifier") if entry[n + "_bytes"] <= room]
    if not parts:
        return None
    name, nbytes = max(parts, key=lambda p: p[1])
    return ("layers" if name == "layer" else name), nbytes


# Where things live on each board (boards/esp32/README.md), and how much room
# there is: the ROMFS partition for weights read in place from flash, the
# PSRAM for weights loaded into the heap (FS=1), and the KV cache's heap.
SCENARIOS = [
    # board, weights in, room for weights, KV cache in, room for the KV cache
    ("LLM_S3", "quad_flash", 4 * 1024 * 1024, "sram", 160 * 1024),
    ("LLM_S3_SPIRAM", "quad_flash", 1664 * 1024, "quad_psram", 2 * 1024 * 1024),
    ("LLM_S3_SPIRAM", "quad_psram", 2 * 1024 * 1024, "quad_psram", 2 * 1024 * 1024),
    ("LLM_S3_SPIRAM_OCT", "quad_flash", 10 * 1024 * 1024, "octal_psram", 8 * 1024 * 1024),
    # The same, as llm.load places it by default from a ROMFS mount: the
    # bigger of the layers and the classifier that the heap holds is copied
    # into the PSRAM (ram_copy below).
    ("LLM_S3_SPIRAM_OCT", "quad_flash" + RAM_COPY, 10 * 1024 * 1024, "octal_psram", 8 * 1024 * 1024),
    ("LLM_S3_SPIRAM_OCT", "octal_psram", 8 * 1024 * 1024, "octal_psram", 8 * 1024 * 1024),
    # 32 MB octal flash and 8 MB octal PSRAM (N32R8V): a 20 MiB ROMFS
    # (boards/esp32/LLM_S3_OCTAL, CONFIG_ESPTOOLPY_OCT_FLASH).
    ("LLM_S3_OCTAL", "octal_flash", 20 * 1024 * 1024, "octal_psram", 8 * 1024 * 1024),
]

# Two cores (usermod/llm/parallel.c): the split threshold, and what one split
# call costs on FreeRTOS: xSemaphoreGive to wake the worker pinned to core 0,
# its wake-up on the other core, and the give/take back (two cross-core task
# wake-ups of about 5 us each at 240 MHz).  An assumption.
def _esp32_min_work():
    """The ESP-IDF firmware's split threshold (LLM_PARALLEL_MIN_WORK), from
    usermod/llm/sources.txt's defines_freertos, which micropython.cmake
    gives the firmware."""
    defines = dict(d.split("=", 1) for d in llm_sources().get("defines_freertos", []))
    return int(defines["LLM_PARALLEL_MIN_WORK"])


MIN_WORK = _esp32_min_work()
HANDOFF_US = 10.0

# Reference points: tok/s measured on real ESP32-S3 boards by other projects.
SEED_TOKS = 19.13   # DaveBben's esp32-llm, stories260K fp32
FORKS_TOKS = 33.0   # the fastest forks


def cycles_per_token(entry, cycles=None):
    """Cycles of one token: the measured instructions, plus the stalls that
    bench-s3 simulated for the assumed FP latency (host/s3prof.py; loads read
    at once cost CYCLES["load_use"], counted within the simulation at 1),
    plus the redirects of block-ending branches."""
    if "cpi" in entry:
        # No instruction mix, but a CPI found elsewhere (the calibration fixture).
        return entry["instr_per_token"] * entry["cpi"]
    c = dict(CYCLES, **(cycles or {}))
    mix = entry.get("mix_per_token", {})
    key = "stall_fp_%d" % int(c["fp_latency"])
    if key not in mix and any(k.startswith("stall_fp_") for k in mix):
        raise ValueError("the bench JSON has no stall count for FP latency %s" % c["fp_latency"])
    stalls = mix.get(key, 0) + mix.get("load_use", 0) * (c["load_use"] - 1)
    stalls += mix.get("branch_end", 0) * c["branch_end"]
    return entry["instr_per_token"] + stalls


def kv_bytes_per_position(entry):
    """Bytes of one position of every layer's keys and values; an int8
    cache adds a 4-byte scale per KV head for the keys and for the values."""
    c = entry["config"]
    kv_dim = c["dim"] * c["n_kv_heads"] // c["n_heads"]
    if entry.get("kv_cache") == "int8":
        per_pos = 2 * kv_dim + 2 * 4 * c["n_kv_heads"]
    else:
        per_pos = 2 * kv_dim * 4
    return c["n_layers"] * per_pos


def kv_bytes_per_token(entry):
    """Bytes of the KV cache one token reads: every position so far,
    averaged over the measured positions."""
    short, long_ = entry["steps"]
    return ((short + long_ - 1) / 2 + 1) * kv_bytes_per_position(entry)


def kv_cache_bytes(entry, ctx=None):
    """Bytes the KV cache takes for ctx positions (the longer step count)."""
    return (ctx or entry["steps"][1]) * kv_bytes_per_position(entry)


def split_fraction(entry, min_work=MIN_WORK):
    """(share of the instructions in work that is split across two cores,
    split calls per token), from the config and parallel.c's rule."""
    c = entry["config"]
    dim, hidden, heads = c["dim"], c["hidden_dim"], c["n_heads"]
    kv_dim = dim * c["n_kv_heads"] // heads
    mats = [(dim, dim), (kv_dim, dim), (kv_dim, dim), (dim, dim), (hidden, dim), (dim, hidden), (hidden, dim)]
    all_macs = c["n_layers"] * sum(r * k for r, k in mats) + c["vocab_size"] * dim
    split = [(r, k) for r, k in mats if r >= 2 and r * k >= min_work]
    split_macs = c["n_layers"] * sum(r * k for r, k in split)
    calls = c["n_layers"] * len(split)
    if c["vocab_size"] * dim >= min_work:
        split_macs += c["vocab_size"] * dim
        calls += 1
    mm_frac = split_macs / all_macs
    # Attention: work grows with the position; a layer splits over its heads
    # once heads * (pos + 1) * head_size * 2 reaches min_work.
    short, long_ = entry["steps"]
    hs = dim // heads
    weights = [pos + 1 for pos in range(short, long_)]
    split_pos = [pos + 1 for pos in range(short, long_) if heads >= 2 and heads * (pos + 1) * hs * 2 >= min_work]
    att_frac = sum(split_pos) / sum(weights)
    calls += c["n_layers"] * len(split_pos) / len(weights)
    total = entry["instr_per_token"]
    parallel = mm_frac * entry.get("matmul_instr_per_token", 0) + att_frac * entry.get("attention_instr_per_token", 0)
    return min(1.0, parallel / total), calls


def estimate(entry, scenario, bandwidth=None, cycles=None, clock_mhz=CLOCK_MHZ, handoff_us=HANDOFF_US,
             min_work=MIN_WORK, line=None, combine=None):
    """Seconds of compute (1 and 2 cores) and memory per token, and tok/s, for one
    bench entry on one scenario (board, weights in, room, KV in, room).
    bandwidth: overrides, {"octal_psram": MB/s} or {"octal_psram@64": MB/s};
    line: the cache line, bytes (default: the board's sdkconfig.board);
    combine: how compute and memory make a token's time (default: their sum;
    tests pass max to show what the old model would say)."""
    board, w_in, w_room, kv_in, kv_room = scenario
    line = line or board_cache_line(board)
    copy = ram_copy(entry, kv_room) if w_in.endswith(RAM_COPY) else None
    w_in = memory_of(w_in)
    bw = {m: bandwidth_mb_s(m, line, bandwidth) for m in (w_in, kv_in)}
    cyc = cycles_per_token(entry, cycles)
    compute1 = cyc / (clock_mhz * 1e6)
    p, calls = split_fraction(entry, min_work)
    compute2 = compute1 * (1 - p) + compute1 * p / 2 + calls * handoff_us * 1e-6
    w_bytes = entry["weight_bytes_per_token"]
    kv_bytes = kv_bytes_per_token(entry)
    copied = copy[1] if copy else 0
    memory = (w_bytes - copied) / (bw[w_in] * 1e6) + (copied + kv_bytes) / (bw[kv_in] * 1e6)
    file_bytes = entry.get("file_bytes", w_bytes)
    kv_alloc = kv_cache_bytes(entry) + copied
    if w_in == kv_in:
        fits = file_bytes + kv_alloc <= w_room
        why = "file and KV cache %.1f MiB, room %.1f MiB" % ((file_bytes + kv_alloc) / 2**20, w_room / 2**20)
    else:
        fits = file_bytes <= w_room and kv_alloc <= kv_room
        if file_bytes > w_room:
            why = "file %.1f MiB, room %.1f MiB" % (file_bytes / 2**20, w_room / 2**20)
        else:
            why = "KV cache %d KiB, heap %d KiB" % (kv_alloc // 1024, kv_room // 1024)
    combine = combine or (lambda compute, mem: compute + mem)
    t1, t2 = combine(compute1, memory), combine(compute2, memory)
    return {"board": board, "weights_in": scenario[1], "kv_in": kv_in, "fits": fits,
            "ram_copy": copy[0] if copy else None, "ram_copy_bytes": copied, "why_not": None if fits else why,
            "line": line, "bandwidth_mb_s": bw,
            "cpi": cyc / entry["instr_per_token"], "compute_s": [compute1, compute2], "memory_s": memory,
            "parallel_share": p, "split_calls": calls,
            # The larger part (both count: the time is their sum).
            "bound": ["compute" if compute1 >= memory else "memory", "compute" if compute2 >= memory else "memory"],
            "tok_s_estimate": [1 / t1, 1 / t2]}


def load_calibration(path=CALIBRATION):
    with open(path) as f:
        return json.load(f)


def seed_entry(fix):
    """The calibration fixture as a bench entry.  The matmuls are the dot
    products; the attention is its loop, the score scaling's sqrtf, and the
    share of the softmax, expf and divisions that the attention makes (the
    sampler's softmax over the vocabulary makes the rest, on one core)."""
    c = fix["model"]["config"]
    parts = fix["breakdown"]["value"]
    first, end = fix["instr_per_token"]["positions"]
    att_exps = c["n_layers"] * c["n_heads"] * ((first + end - 1) / 2 + 1)
    att_share = att_exps / (att_exps + c["vocab_size"])
    attention = parts["attention loop"] + parts["sqrtf"] + att_share * (parts["softmax"] + parts["expf"] +
                                                                        parts["__divsf3"])
    return {"instr_per_token": fix["instr_per_token"]["value"], "cpi": fix["cpi"]["value"],
            "matmul_instr_per_token": parts["dot products"], "attention_instr_per_token": attention,
            "weight_bytes_per_token": fix["weight_bytes_per_token"]["value"], "config": dict(c),
            "kv_cache": fix["kv_cache"], "steps": [first, end]}


def calibrate(fix=None, **kw):
    """The model's estimate for the seed on its board, two cores as it ran:
    {"estimate": tok/s, "measured": tok/s, "ratio": estimate / measured, "row": estimate()}."""
    fix = fix or load_calibration()
    b, two = fix["board"], fix["two_cores"]
    scenario = ("seed board", b["weights_in"], float("inf"), b["kv_in"], float("inf"))
    args = dict(line=b["cache_line"], clock_mhz=b["clock_mhz"], min_work=two["min_work"],
                handoff_us=two["handoff_us"])
    args.update(kw)
    row = estimate(seed_entry(fix), scenario, **args)
    est, measured = row["tok_s_estimate"][1], fix["measured_tok_s"]["value"]
    return {"estimate": est, "measured": measured, "ratio": est / measured, "row": row}


def calibration_line(kw=None):
    """One sentence: the model against the seed's measured figure."""
    kw = {k: v for k, v in (kw or {}).items() if k in ("bandwidth", "cycles") and v}
    cal = calibrate(**kw)
    return ("Calibration: the same model gives %.1f tok/s for DaveBben's esp32-llm (stories260K fp32, quad "
            "PSRAM, two cores; its instructions counted on the emulated S3 core), measured %.2f tok/s on the "
            "chip: %+.0f%% (host/calibration/seed-esp32-llm.json, tests/test_s3model.py)."
            % (cal["estimate"], cal["measured"], 100 * (cal["ratio"] - 1)))


def estimate_all(bench, **kw):
    rows = []
    for model, cfg, entry in ordered(bench):
        for sc in SCENARIOS:
            r = estimate(entry, sc, **kw)
            r.update(model=model, config=cfg, instr_per_token=entry["instr_per_token"])
            rows.append(r)
    return rows


def placed(row):
    """Where a row's weights are read: "quad_flash", "quad_flash+ram (classifier)"."""
    if row["weights_in"].endswith(RAM_COPY):
        return "%s (%s)" % (row["weights_in"], row["ram_copy"] or "no copy")
    return row["weights_in"]


def print_table(rows, out=sys.stdout, kw=None):
    out.write("Estimated tokens/s on an ESP32-S3 at %.0f MHz (time model, not measured; host/s3model.py)\n"
              % CLOCK_MHZ)
    out.write("time per token = compute + memory (no overlap); memory at the board's cache line\n")
    out.write("%-16s %-9s %-18s %-27s %-12s %4s %5s %9s %9s %9s %9s\n" % (
        "model", "weights", "board", "weights in", "KV in", "line", "CPI", "compute", "memory", "1 core",
        "2 cores"))
    for r in rows:
        tail = "%9.1f %9.1f" % tuple(r["tok_s_estimate"])
        if not r["fits"]:
            tail += "  (does not fit: %s)" % r["why_not"]
        out.write("%-16s %-9s %-18s %-27s %-12s %4d %5.2f %7.2fms %7.2fms %s\n" % (
            r["model"], r["config"], r["board"], placed(r), r["kv_in"], r["line"], r["cpi"],
            1e3 * r["compute_s"][0], 1e3 * r["memory_s"], tail))
    out.write("Reference, measured on real boards: %.2f tok/s (DaveBben, stories260K fp32), %.0f tok/s (forks).\n"
              % (SEED_TOKS, FORKS_TOKS))
    out.write(calibration_line(kw) + "\n")


# The project's S3 speed targets: (model, config, what, bound, label).
# what: "instr" (measured instructions per token, at most bound) or
# ("tok_s", board, weights in, cores) (estimate, at least bound).
TARGETS = [
    ("stories260K", "f32", "instr", 1.6e6, "fp32 exact, S3 instructions/token (measured)"),
    ("stories260K", "int8", "instr", 0.7e6, "int8, S3 instructions/token (measured)"),
    ("stories260K", "int8_kv8", "instr", 0.6e6, "int8 + int8 KV, S3 instructions/token (measured)"),
    ("stories260K", "int8", ("tok_s", "LLM_S3_SPIRAM_OCT", "octal_psram", 1), 100, "int8, octal PSRAM, one core (estimate)"),
    ("stories260K", "int8", ("tok_s", "LLM_S3_SPIRAM_OCT", "octal_psram", 2), 150, "int8, octal PSRAM, two cores (estimate)"),
    ("stories260K", "int8_kv8", ("tok_s", "LLM_S3_SPIRAM_OCT", "octal_psram", 1), 100,
     "int8 + int8 KV, octal PSRAM, one core (estimate)"),
    ("stories260K", "int8_kv8", ("tok_s", "LLM_S3_SPIRAM_OCT", "octal_psram", 2), 150,
     "int8 + int8 KV, octal PSRAM, two cores (estimate)"),
    ("dim288_vocab512", "int8", ("tok_s", "LLM_S3_OCTAL", "octal_flash", 1), 3,
     "dim-288 6-layer model, vocab 512, int8 from octal flash (estimate)"),
    # Issue 19: the real stories15M in 4-bit weights from the N16R8's quad
    # flash, twice the 1.4 tok/s of the seed's fork; stories260K in 4-bit
    # weights on the seed's own kind of board (quad PSRAM), 3 x 19.13.
    ("stories15M", "int4", ("tok_s", "LLM_S3_SPIRAM_OCT", "quad_flash", 1), 3,
     "stories15M int4 from quad flash (N16R8, place=\"flash\"), one core (estimate)"),
    ("stories15M", "int4", ("tok_s", "LLM_S3_SPIRAM_OCT", "quad_flash" + RAM_COPY, 1), 3,
     "stories15M int4 on the N16R8 as llm.load places it (a part copied to octal PSRAM), one core (estimate)"),
    ("stories15M", "int4_kv8", ("tok_s", "LLM_S3_SPIRAM_OCT", "quad_flash" + RAM_COPY, 1), 3,
     "stories15M int4 + int8 KV on the N16R8 as llm.load places it, one core (estimate)"),
    ("stories260K", "int4", ("tok_s", "LLM_S3_SPIRAM", "quad_psram", 2), 3 * SEED_TOKS,
     "stories260K int4, quad PSRAM (the seed's board), two cores (estimate)"),
]


def targets(bench, rows):
    """[(label, target text, figure text, met)] for the targets the bench covers."""
    out = []
    for model, cfg, what, bound, label in TARGETS:
        e = bench.get(model, {}).get(cfg)
        if e is None:
            continue
        if what == "instr":
            v = e["instr_per_token"]
            out.append((label, "≤ %.1f M" % (bound / 1e6), "%.3f M" % (v / 1e6), v <= bound))
            continue
        _, board, w_in, cores = what
        for r in rows:
            if (r["model"], r["config"], r["board"], r["weights_in"]) == (model, cfg, board, w_in):
                v = r["tok_s_estimate"][cores - 1] if r["fits"] else 0.0
                out.append((label, "≥ %g tok/s" % bound,
                            "%.1f tok/s" % v if r["fits"] else "does not fit", r["fits"] and v >= bound))
    return out


# The generated sections: (begin line, end line, generator).  --update-doc
# FILE rewrites every section whose two lines FILE holds.
BEGIN = "<!-- s3-estimate figures begin -->"
END = "<!-- s3-estimate figures end -->"
README_BEGIN = "<!-- s3-estimate readme begin -->"
README_END = "<!-- s3-estimate readme end -->"
UPDATE_COMMAND = ("python3 -m host s3-estimate build/bench-s3.json --update-doc docs/s3-performance.md "
                  "--update-doc README.md")


def model_label(model, entry):
    return entry.get("label", model)


# The order of the generated tables (the JSON's keys are sorted by name).
MODEL_ORDER = ["stories260K", "stories15M", "dim288_vocab512"]
CONFIG_ORDER = ["f32", "int8", "int8_kv8", "int4", "int4_kv8"]


def ordered(bench):
    """[(model, config, entry)] in MODEL_ORDER / CONFIG_ORDER, others after, by name."""
    def rank(order, name):
        return (order.index(name), "") if name in order else (len(order), name)
    return [(m, c, bench[m][c]) for m in sorted(bench, key=lambda m: rank(MODEL_ORDER, m))
            for c in sorted(bench[m], key=lambda c: rank(CONFIG_ORDER, c))]


def bandwidth_table(kw):
    """Markdown rows: each memory's MB/s at 16/32/64-byte lines, and where each figure comes from."""
    over = kw.get("bandwidth") or {}
    lines = ["| memory | %s | source |" % " | ".join("%d B lines" % n for n in LINE_SIZES),
             "|---|%s---|" % ("---|" * len(LINE_SIZES))]
    for mem in BANDWIDTH_MB_S:
        cells = []
        for n in LINE_SIZES:
            v = bandwidth_mb_s(mem, n, over)
            cells.append(("%g" % v) + (" (given)" if v != BANDWIDTH_MB_S[mem][n] else ""))
        lines.append("| `%s` | %s | %s |" % (mem, " | ".join(cells), BANDWIDTH_SOURCES[mem]))
    return lines


def markdown(bench, rows, kw):
    """The figures section of docs/s3-performance.md, generated from the JSON."""
    cyc = dict(CYCLES, **(kw.get("cycles") or {}))
    lines = ["<!-- generated by: %s -->" % UPDATE_COMMAND, "",
             "### Measured: S3 instructions per token", "",
             "| model | weights | KV cache | steps | instructions/token | in kernels | interpreter |",
             "|---|---|---|---|---|---|---|"]
    for model, cfg, e in ordered(bench):
        lines.append("| %s | %s | %s | %d→%d | %.3f M | %.1f%% | %.3f M |" % (
            model_label(model, e), "int8" if cfg.startswith("int8") else "f32", e.get("kv_cache", "f32"),
            e["steps"][0], e["steps"][1], e["instr_per_token"] / 1e6, 100 * e["kernel_share"],
            e.get("interpreter_instr_per_token", e["instr_per_token"] * (1 - e["kernel_share"])) / 1e6))
    lines += ["", "### Targets", "", "| target | goal | figure | |", "|---|---|---|---|"]
    for label, goal, figure, met in targets(bench, rows):
        lines.append("| %s | %s | %s | %s |" % (label, goal, figure, "met" if met else "**missed**"))
    lines += ["", "Where they go (per token, the largest functions):", ""]
    for model, cfg, e in ordered(bench):
        top = sorted(e.get("by_function", {}).items(), key=lambda kv: -kv[1])[:8]
        lines.append("- %s %s: %s" % (model, cfg, ", ".join("`%s` %.0f K" % (f, v / 1e3) for f, v in top)))
    lines += ["", "### Estimated: tokens per second (time model)", "",
              "Assumptions: %.0f MHz; FP latency %s cycles, load-use %s, branch %s; time per token = compute + "
              "memory; data-cache lines per board: %s; two cores split work ≥ %d multiply-adds, %.0f µs per "
              "hand-off. Bandwidths, MB/s:" % (
                  kw.get("clock_mhz", CLOCK_MHZ), cyc["fp_latency"], cyc["load_use"], cyc["branch_end"],
                  ", ".join("%s %d B" % (b, board_cache_line(b)) for b in sorted({sc[0] for sc in SCENARIOS})),
                  kw.get("min_work", MIN_WORK), kw.get("handoff_us", HANDOFF_US)), ""]
    lines += bandwidth_table(kw)
    lines += ["", calibration_line(kw), "",
              "| model | weights | board | weights in | KV in | CPI | compute | memory | 1 core (estimate) "
              "| 2 cores (estimate) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = "%.1f tok/s | %.1f tok/s" % tuple(r["tok_s_estimate"])
        if not r["fits"]:
            t = "does not fit (%s); %.1f if it did | %.1f" % (r["why_not"], r["tok_s_estimate"][0],
                                                               r["tok_s_estimate"][1])
        lines.append("| %s | %s | %s | %s | %s | %.2f | %.1f ms | %.1f ms | %s |" % (
            r["model"], r["config"], r["board"], placed(r), r["kv_in"], r["cpi"], 1e3 * r["compute_s"][0],
            1e3 * r["memory_s"], t))
    lines += ["", "Measured on real boards by other projects: %.2f tok/s (DaveBben's esp32-llm, stories260K fp32), "
              "%.0f tok/s (the fastest forks)." % (SEED_TOKS, FORKS_TOKS), ""]
    return "\n".join(lines)


# The README's table: per configuration, the places worth showing, in order.
README_PLACES = [("LLM_S3_SPIRAM", "quad_psram", "quad PSRAM"), ("LLM_S3_SPIRAM_OCT", "quad_flash", "quad flash"),
                 ("LLM_S3_SPIRAM_OCT", "quad_flash" + RAM_COPY, "quad flash with the %s in octal PSRAM (load's default)"),
                 ("LLM_S3_SPIRAM_OCT", "octal_psram", "octal PSRAM"), ("LLM_S3_OCTAL", "octal_flash", "octal flash")]
KV_NAMES = {"f32": "fp32 KV cache", "int8": "int8 KV cache"}


def tok_s_text(v):
    """A tok/s figure to two significant digits: 2.7, 23, 104."""
    return "%.1f" % v if v < 10 else "%.0f" % v


def readme_markdown(bench, rows, kw):
    """The README's Speed table, generated from the JSON."""
    lines = ["<!-- generated by: %s -->" % UPDATE_COMMAND, "",
             "| model, weights, KV cache | S3 instructions/token (measured) | S3 tok/s, 1 / 2 cores (estimate) |",
             "|---|---|---|"]
    for model, cfg, e in ordered(bench):
        mine = {(r["board"], r["weights_in"]): r for r in rows if (r["model"], r["config"]) == (model, cfg)}
        shown = [(mine[b, w], where) for b, w, where in README_PLACES if (b, w) in mine]
        fits = [(r, where) for r, where in shown if r["fits"]]
        if fits:
            fits = [(r, where) for r, where in fits if "%s" not in where or r["ram_copy"]]
            cell = "; ".join("%s / %s from %s" % (tok_s_text(r["tok_s_estimate"][0]), tok_s_text(r["tok_s_estimate"][1]),
                                                     where % r["ram_copy"] if "%s" in where else where)
                             for r, where in fits)
        else:
            r, where = shown[-1]
            cell = "does not fit our boards (%s); from %s it would be %.1f / %.1f" % (
                r["why_not"], where, r["tok_s_estimate"][0], r["tok_s_estimate"][1])
        lines.append("| %s, %s, %s | %.3f M | %s |" % (
            model_label(model, e), {"int8": "int8", "int4": "int4"}.get(cfg.split("_")[0], "fp32"),
            KV_NAMES.get(e.get("kv_cache", "f32"), e.get("kv_cache")), e["instr_per_token"] / 1e6, cell))
    lines += ["", "Measured on real ESP32-S3 boards by other projects: **%.2f tok/s** (DaveBben's esp32-llm, "
              "stories260K fp32, quad PSRAM) and **%.0f tok/s** (its fastest forks). " % (SEED_TOKS, FORKS_TOKS)
              + calibration_line(kw), ""]
    return "\n".join(lines)


SECTIONS = [(BEGIN, END, markdown), (README_BEGIN, README_END, readme_markdown)]


def update_doc(path, bench, rows, kw):
    """Rewrite the generated sections of a file; raise SystemExit when it has none or a broken pair."""
    with open(path) as f:
        doc = f.read()
    done = 0
    for begin, end, gen in SECTIONS:
        if doc.count(begin) == 0 and doc.count(end) == 0:
            continue
        if doc.count(begin) != 1 or doc.count(end) != 1 or doc.index(begin) > doc.index(end):
            raise SystemExit("error: %s needs one %r line and one %r line after it" % (path, begin, end))
        head, rest = doc.split(begin, 1)
        doc = head + begin + "\n" + gen(bench, rows, kw) + "\n" + end + rest.split(end, 1)[1]
        done += 1
    if not done:
        raise SystemExit("error: %s has no generated section (%s)" % (
            path, " or ".join("%s ... %s" % (b, e) for b, e, _ in SECTIONS)))
    with open(path + ".tmp", "w") as f:
        f.write(doc)
    os.replace(path + ".tmp", path)


def parse_pairs(items, what):
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit("error: %s wants NAME=VALUE, not %r" % (what, item))
        try:
            out[name] = float(value)
        except ValueError:
            raise SystemExit("error: %s %r: %r is not a number" % (what, name, value))
        if not out[name] > 0:
            raise SystemExit("error: %s %r: %r is not positive" % (what, name, value))
    return out


def bandwidths_from_json(path):
    """Overrides from `python3 -m host bench-board --json FILE`: its
    "bandwidth_mb_s" ({memory: MB/s}), each for its "cache_line" when the
    file names one (so other line sizes keep the table), else for every line."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit("error: %s: %s" % (path, e))
    measured = data.get("bandwidth_mb_s") if isinstance(data, dict) else None
    if not isinstance(measured, dict) or not measured:
        raise SystemExit("error: %s has no \"bandwidth_mb_s\" object (write it with python3 -m host bench-board "
                         "PORT --json FILE)" % path)
    if data.get("emulator"):
        sys.stderr.write("note: %s was measured on the emulated S3 core: its MB/s are emulator wall time\n" % path)
    line = data.get("cache_line")
    if line is not None and line not in LINE_SIZES:
        raise SystemExit("error: %s: cache_line %r is not one of %s" % (path, line, LINE_SIZES))
    out = {}
    for mem, v in measured.items():
        if mem not in BANDWIDTH_MB_S or not isinstance(v, (int, float)) or not v > 0:
            raise SystemExit("error: %s: %r: %r is not a known memory with a positive MB/s" % (path, mem, v))
        out[mem if line is None else "%s@%d" % (mem, line)] = float(v)
    return out


def check_bandwidth_names(bandwidth):
    for key in bandwidth:
        mem, _, line = key.partition("@")
        if mem not in BANDWIDTH_MB_S:
            raise SystemExit("error: unknown memory %s (known: %s)" % (mem, ", ".join(BANDWIDTH_MB_S)))
        if line and line not in [str(n) for n in LINE_SIZES]:
            raise SystemExit("error: %s: the line size is one of %s bytes" % (key, "/".join(map(str, LINE_SIZES))))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host s3-estimate", description=__doc__.split("\n\n")[0])
    ap.add_argument("bench_json", help="output of python3 -m host bench-s3 --json (make bench-s3 writes "
                    "build/bench-s3.json)")
    ap.add_argument("--json", action="store_true", help="print the estimates as JSON")
    ap.add_argument("--markdown", action="store_true", help="print the figures section of docs/s3-performance.md")
    ap.add_argument("--update-doc", metavar="FILE", action="append",
                    help="rewrite the generated sections of FILE (repeatable): docs/s3-performance.md between "
                    "%s and %s, README.md between %s and %s" % (BEGIN, END, README_BEGIN, README_END))
    ap.add_argument("--bandwidth", action="append", metavar="NAME[@LINE]=MB/s",
                    help="replace an assumed bandwidth (%s), for every cache line or for LINE bytes only; "
                    "repeatable" % ", ".join(BANDWIDTH_MB_S))
    ap.add_argument("--bandwidths", metavar="FILE", help="the bandwidths measured by python3 -m host bench-board "
                    "PORT --json FILE (--bandwidth given as well wins)")
    ap.add_argument("--cycles", action="append", metavar="NAME=N",
                    help="replace an assumed cycle cost (%s); repeatable" % ", ".join(CYCLES))
    ap.add_argument("--clock-mhz", type=float, default=CLOCK_MHZ)
    ap.add_argument("--handoff-us", type=float, default=HANDOFF_US, help="cost of one two-core split call")
    ap.add_argument("--min-work", type=int, default=MIN_WORK, help="multiply-adds from which a call is split")
    args = ap.parse_args(argv)
    bandwidth = bandwidths_from_json(args.bandwidths) if args.bandwidths else {}
    bandwidth.update(parse_pairs(args.bandwidth, "--bandwidth"))
    check_bandwidth_names(bandwidth)
    cycles = parse_pairs(args.cycles, "--cycles")
    unknown = set(cycles) - set(CYCLES)
    if unknown:
        raise SystemExit("error: unknown cycle cost %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(CYCLES)))
    try:
        with open(args.bench_json) as f:
            bench = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit("error: %s: %s (make bench-s3 writes build/bench-s3.json)" % (args.bench_json, e))
    kw = dict(bandwidth=bandwidth, cycles=cycles, clock_mhz=args.clock_mhz, handoff_us=args.handoff_us,
              min_work=args.min_work)
    rows = estimate_all(bench, **kw)
    if args.json:
        print(json.dumps({"assumptions": {"clock_mhz": args.clock_mhz, "cycles": dict(CYCLES, **cycles),
                                          "bandwidth_mb_s": {m: {n: bandwidth_mb_s(m, n, bandwidth)
                                                                 for n in LINE_SIZES} for m in BANDWIDTH_MB_S},
                                          "cache_line": {sc[0]: board_cache_line(sc[0]) for sc in SCENARIOS},
                                          "handoff_us": args.handoff_us, "min_work": args.min_work},
                          "calibration": {k: v for k, v in calibrate(bandwidth=bandwidth, cycles=cycles).items()
                                          if k != "row"},
                          "estimates": rows}, indent=1))
    elif args.update_doc:
        for path in args.update_doc:
            update_doc(path, bench, rows, kw)
            print("updated %s" % path)
    elif args.markdown:
        print(markdown(bench, rows, kw))
    else:
        print_table(rows, kw=kw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
