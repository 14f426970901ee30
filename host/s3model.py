"""The ESP32-S3 time model: estimated tokens per second from measured S3 instructions.

Input: the JSON of `python3 -m host bench-s3 --json` (instructions per token
counted on the emulated S3 core, their mix, the model's config and the weight
bytes one token reads).  For each board and each place the weights can live,
on one core and on two, a token takes the longer of two times:

  compute = cycles / clock, cycles = instructions x 1 (single issue) + stalls
            (FP results read too soon, loads read at once, taken redirects),
            counted from the measured instruction mix with the latencies in
            CYCLES;
  memory  = bytes streamed per token / bandwidth of where they live
            (weights: every matrix once per token; the KV cache read so far),
            with the bandwidths in BANDWIDTH_MB_S.

Two cores: the split of usermod/llm/parallel.c, as it is: a matmul or an
attention layer of at least MIN_WORK multiply-adds gives half its rows
(heads) to the other core, which costs HANDOFF_US per split call; the rest
runs on one core; both cores share one memory bus, so the memory time stays.

Every figure it prints is an estimate: no part of it has run on a chip.  The
dicts below are the assumptions; replace them with measured ones
(--bandwidth NAME=MB/s, --handoff-us, --fp-latency, ...).

    python3 -m host s3-estimate build/bench-s3.json [--json | --markdown | --update-doc docs/s3-performance.md]
"""
import argparse
import json
import os
import re
import sys

CLOCK_MHZ = 240.0

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

# Sustained read bandwidth, MB/s, of where weights and the KV cache can live,
# through the S3's cache (32-byte lines).  Replace with measured figures.
BANDWIDTH_MB_S = {
    # 4 bits x 80 MHz = 40 MB/s peak; each 32-byte line refill also sends a
    # command, an address and dummy cycles (about 20 clocks for 64 of data).
    "quad_flash": 30.0,
    "quad_psram": 30.0,
    # 8 bits x 80 MHz DTR = 160 MB/s peak; 40-80 MB/s measured in practice.
    "octal_psram": 80.0,
    "octal_flash": 80.0,
    # Internal SRAM: one 32-bit load per cycle at 240 MHz.
    "sram": 960.0,
}

# Where things live on each board (boards/esp32/README.md), and how much room
# there is: the ROMFS partition for weights read in place from flash, the
# PSRAM for weights loaded into the heap (FS=1), and the KV cache's heap.
SCENARIOS = [
    # board, weights in, room for weights, KV cache in, room for the KV cache
    ("LLM_S3", "quad_flash", 4 * 1024 * 1024, "sram", 160 * 1024),
    ("LLM_S3_SPIRAM", "quad_flash", 1664 * 1024, "quad_psram", 2 * 1024 * 1024),
    ("LLM_S3_SPIRAM", "quad_psram", 2 * 1024 * 1024, "quad_psram", 2 * 1024 * 1024),
    ("LLM_S3_SPIRAM_OCT", "quad_flash", 10 * 1024 * 1024, "octal_psram", 8 * 1024 * 1024),
    ("LLM_S3_SPIRAM_OCT", "octal_psram", 8 * 1024 * 1024, "octal_psram", 8 * 1024 * 1024),
    # Modules with octal flash too (N16R16V, N32R8V: CONFIG_ESPTOOLPY_OCT_FLASH).
    ("LLM_S3_SPIRAM_OCT", "octal_flash", 10 * 1024 * 1024, "octal_psram", 8 * 1024 * 1024),
]

# Two cores (usermod/llm/parallel.c): the split threshold, and what one split
# call costs on FreeRTOS: xSemaphoreGive to wake the worker pinned to core 0,
# its wake-up on the other core, and the give/take back (two cross-core task
# wake-ups of about 5 us each at 240 MHz).  An assumption.
def _esp32_min_work():
    """The ESP_PLATFORM split threshold, as usermod/llm/parallel.c defines it."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "usermod", "llm", "parallel.c")
    with open(path) as f:
        m = re.search(r"#if defined\(ESP_PLATFORM\)\s*#define LLM_PARALLEL_MIN_WORK \((\d+) \* (\d+)L\)", f.read())
    return int(m.group(1)) * int(m.group(2))


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
             min_work=MIN_WORK):
    """Seconds of compute (1 and 2 cores) and memory per token, and tok/s, for one
    bench entry on one scenario (board, weights in, room, KV in, room)."""
    bw = dict(BANDWIDTH_MB_S, **(bandwidth or {}))
    board, w_in, w_room, kv_in, kv_room = scenario
    cyc = cycles_per_token(entry, cycles)
    compute1 = cyc / (clock_mhz * 1e6)
    p, calls = split_fraction(entry, min_work)
    compute2 = compute1 * (1 - p) + compute1 * p / 2 + calls * handoff_us * 1e-6
    w_bytes = entry["weight_bytes_per_token"]
    kv_bytes = kv_bytes_per_token(entry)
    memory = w_bytes / (bw[w_in] * 1e6) + kv_bytes / (bw[kv_in] * 1e6)
    file_bytes = entry.get("file_bytes", w_bytes)
    kv_alloc = kv_cache_bytes(entry)
    if w_in == kv_in:
        fits = file_bytes + kv_alloc <= w_room
    else:
        fits = file_bytes <= w_room and kv_alloc <= kv_room
    t1, t2 = max(compute1, memory), max(compute2, memory)
    return {"board": board, "weights_in": w_in, "kv_in": kv_in, "fits": fits,
            "cpi": cyc / entry["instr_per_token"], "compute_s": [compute1, compute2], "memory_s": memory,
            "parallel_share": p, "split_calls": calls,
            "bound": ["compute" if compute1 >= memory else "memory", "compute" if compute2 >= memory else "memory"],
            "tok_s_estimate": [1 / t1, 1 / t2]}


def estimate_all(bench, **kw):
    rows = []
    for model, cfgs in bench.items():
        for cfg, entry in cfgs.items():
            for sc in SCENARIOS:
                r = estimate(entry, sc, **kw)
                r.update(model=model, config=cfg, instr_per_token=entry["instr_per_token"])
                rows.append(r)
    return rows


def print_table(rows, out=sys.stdout):
    out.write("Estimated tokens/s on an ESP32-S3 at %.0f MHz (time model, not measured; host/s3model.py)\n"
              % CLOCK_MHZ)
    out.write("%-17s %-9s %-18s %-12s %-12s %5s %9s %9s %9s %9s\n" % (
        "model", "weights", "board", "weights in", "KV in", "CPI", "compute", "memory", "1 core", "2 cores"))
    for r in rows:
        if not r["fits"]:
            tail = "%9s %9s" % ("no fit", "no fit")
        else:
            tail = "%9.1f %9.1f" % tuple(r["tok_s_estimate"])
        out.write("%-17s %-9s %-18s %-12s %-12s %5.2f %7.2fms %7.2fms %s\n" % (
            r["model"], r["config"], r["board"], r["weights_in"], r["kv_in"], r["cpi"], 1e3 * r["compute_s"][0],
            1e3 * r["memory_s"], tail))
    out.write("Reference, measured on real boards: %.2f tok/s (DaveBben, stories260K fp32), %.0f tok/s (forks).\n"
              % (SEED_TOKS, FORKS_TOKS))


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
    ("stories15M_shape", "int8", ("tok_s", "LLM_S3_SPIRAM_OCT", "octal_flash", 1), 3,
     "stories15M shape int8 from octal flash (estimate)"),
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


BEGIN = "<!-- s3-estimate figures begin -->"
END = "<!-- s3-estimate figures end -->"


def markdown(bench, rows, kw):
    """The figures section of docs/s3-performance.md, generated from the JSON."""
    bw = dict(BANDWIDTH_MB_S, **(kw.get("bandwidth") or {}))
    cyc = dict(CYCLES, **(kw.get("cycles") or {}))
    lines = ["<!-- generated by: python3 -m host s3-estimate build/bench-s3.json --markdown -->", "",
             "### Measured: S3 instructions per token", "",
             "| model | weights | KV cache | steps | instructions/token | in kernels | interpreter |",
             "|---|---|---|---|---|---|---|"]
    for model, cfgs in bench.items():
        for cfg, e in cfgs.items():
            lines.append("| %s | %s | %s | %d→%d | %.3f M | %.1f%% | %.3f M |" % (
                model, "int8" if cfg.startswith("int8") else "f32", e.get("kv_cache", "f32"), e["steps"][0],
                e["steps"][1], e["instr_per_token"] / 1e6, 100 * e["kernel_share"],
                e.get("interpreter_instr_per_token", e["instr_per_token"] * (1 - e["kernel_share"])) / 1e6))
    lines += ["", "### Targets", "", "| target | goal | figure | |", "|---|---|---|---|"]
    for label, goal, figure, met in targets(bench, rows):
        lines.append("| %s | %s | %s | %s |" % (label, goal, figure, "met" if met else "**missed**"))
    lines += ["", "Where they go (per token, the largest functions):", ""]
    for model, cfgs in bench.items():
        for cfg, e in cfgs.items():
            top = sorted(e.get("by_function", {}).items(), key=lambda kv: -kv[1])[:8]
            lines.append("- %s %s: %s" % (model, cfg, ", ".join("`%s` %.0f K" % (f, v / 1e3) for f, v in top)))
    lines += ["", "### Estimated: tokens per second (time model)", "",
              "Assumptions: %.0f MHz; FP latency %s cycles, load-use %s, branch %s; bandwidth MB/s: %s; "
              "two cores split work ≥ %d multiply-adds, %.0f µs per hand-off." % (
                  kw.get("clock_mhz", CLOCK_MHZ), cyc["fp_latency"], cyc["load_use"], cyc["branch_end"],
                  ", ".join("%s %g" % kv for kv in bw.items()), kw.get("min_work", MIN_WORK),
                  kw.get("handoff_us", HANDOFF_US)), "",
              "| model | weights | board | weights in | KV in | CPI | bound | 1 core (estimate) | 2 cores (estimate) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["fits"]:
            t = "%.1f tok/s | %.1f tok/s" % tuple(r["tok_s_estimate"])
        else:
            t = "does not fit | does not fit"
        lines.append("| %s | %s | %s | %s | %s | %.2f | %s | %s |" % (
            r["model"], r["config"], r["board"], r["weights_in"], r["kv_in"], r["cpi"], r["bound"][0], t))
    lines += ["", "Measured on real boards by other projects: %.2f tok/s (DaveBben's esp32-llm, stories260K fp32), "
              "%.0f tok/s (the fastest forks)." % (SEED_TOKS, FORKS_TOKS), ""]
    return "\n".join(lines)


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
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host s3-estimate", description=__doc__.split("\n\n")[0])
    ap.add_argument("bench_json", help="output of python3 -m host bench-s3 --json (make bench-s3 writes "
                    "build/bench-s3.json)")
    ap.add_argument("--json", action="store_true", help="print the estimates as JSON")
    ap.add_argument("--markdown", action="store_true", help="print the figures section of docs/s3-performance.md")
    ap.add_argument("--update-doc", metavar="FILE", help="replace the generated figures section of FILE "
                    "(between the %s and %s lines), e.g. docs/s3-performance.md" % (BEGIN, END))
    ap.add_argument("--bandwidth", action="append", metavar="NAME=MB/s",
                    help="replace an assumed bandwidth (%s); repeatable" % ", ".join(BANDWIDTH_MB_S))
    ap.add_argument("--cycles", action="append", metavar="NAME=N",
                    help="replace an assumed cycle cost (%s); repeatable" % ", ".join(CYCLES))
    ap.add_argument("--clock-mhz", type=float, default=CLOCK_MHZ)
    ap.add_argument("--handoff-us", type=float, default=HANDOFF_US, help="cost of one two-core split call")
    ap.add_argument("--min-work", type=int, default=MIN_WORK, help="multiply-adds from which a call is split")
    args = ap.parse_args(argv)
    bandwidth = parse_pairs(args.bandwidth, "--bandwidth")
    unknown = set(bandwidth) - set(BANDWIDTH_MB_S)
    if unknown:
        raise SystemExit("error: unknown memory %s (known: %s)" % (", ".join(sorted(unknown)),
                                                                  ", ".join(BANDWIDTH_MB_S)))
    cycles = parse_pairs(args.cycles, "--cycles")
    unknown = set(cycles) - set(CYCLES)
    if unknown:
        raise SystemExit("error: unknown cycle cost %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(CYCLES)))
    with open(args.bench_json) as f:
        bench = json.load(f)
    kw = dict(bandwidth=bandwidth, cycles=cycles, clock_mhz=args.clock_mhz, handoff_us=args.handoff_us,
              min_work=args.min_work)
    rows = estimate_all(bench, **kw)
    if args.json:
        print(json.dumps({"assumptions": {"clock_mhz": args.clock_mhz, "cycles": dict(CYCLES, **cycles),
                                          "bandwidth_mb_s": dict(BANDWIDTH_MB_S, **bandwidth),
                                          "handoff_us": args.handoff_us, "min_work": args.min_work},
                          "estimates": rows}, indent=1))
    elif args.update_doc:
        with open(args.update_doc) as f:
            doc = f.read()
        if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(BEGIN) > doc.index(END):
            raise SystemExit("error: %s needs one %r line and one %r line after it" % (args.update_doc, BEGIN, END))
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        with open(args.update_doc, "w") as f:
            f.write(head + BEGIN + "\n" + markdown(bench, rows, kw) + "\n" + END + tail)
        print("updated %s" % args.update_doc)
    elif args.markdown:
        print(markdown(bench, rows, kw))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
