"""Executed ESP32-S3 instructions per token of one .llm file on the emulated core, and the
tok/s estimate they give (docs/int4.md).

Runs host/bench_s3.py's measurement (the pcprof plugin's count of every executed
instruction, the marginal between two step counts, greedy from "Once upon a time") on
the bench build (build/s3sim-bench: `make bench-s3` builds it and the plugin), with the
model in a ROMFS image preloaded into the emulator.  The estimate is the time model's
rule as its calibrated version states it: time per token = compute + memory, compute =
cycles (instructions plus the stalls counted from their mix, host/s3model.py) / 240 MHz,
memory = bytes read per token / the bandwidth of where they live.

    python3 -m host.int4_bench MODEL.llm [--steps 16 48] [--kv f32|int8] [--json OUT]
"""
import argparse
import json
import os
import sys
import tempfile

from host import bench_s3, s3model, s3prof

MB = 1e6
# Sustained read bandwidths (MB/s) through the S3's cache.  Quad flash: 4 bits x 80 MHz
# with command, address and dummy cycles per 32-byte line refill; octal PSRAM: 58 MB/s with
# 32-byte cache lines, 84 MB/s with 64-byte lines (the refill's fixed cost spread over twice
# the data); octal flash as octal PSRAM.
BANDWIDTH = {"quad_flash": 30.0, "octal_psram_32": 58.0, "octal_psram_64": 84.0, "octal_flash": 58.0,
             "sram": 960.0}


def weight_bytes(path):
    """(bytes of the layers' tensors, bytes of the classifier, bytes of one embedding row) a token
    reads: every matrix once; the embedding row once (shared classifier: part of the classifier)."""
    from host import modelfile
    from host.fileformat import F32, LAYER_TENSORS, Q4, Q8, padded_cols
    data = open(path, "rb").read()
    h = modelfile.read_header(data)
    table = modelfile.read_table(data, h)
    c = h["config"]
    dim, hidden = c["dim"], c["hidden_dim"]
    kv_dim = dim * c["n_kv_heads"] // c["n_heads"]
    shapes = {"wq": (dim, dim), "wk": (kv_dim, dim), "wv": (kv_dim, dim), "wo": (dim, dim), "w1": (hidden, dim),
              "w2": (dim, hidden), "w3": (hidden, dim), "rms_att": (1, dim), "rms_ffn": (1, dim)}

    def nbytes(entry, rows, cols):
        _, kind, gs, _ = entry
        if kind == F32:
            return rows * cols * 4
        p = padded_cols(cols, gs)
        return rows * (p // 2 if kind == Q4 else p) + rows * (p // gs) * 2
    layers = 0
    for l in range(c["n_layers"]):
        for i, name in enumerate(LAYER_TENSORS):
            layers += nbytes(table[1 + l * len(LAYER_TENSORS) + i], *shapes[name])
    cls = nbytes(table[-1], c["vocab_size"], dim)
    row = nbytes(table[0], 1, dim)
    return layers, cls, row, c


def estimate(instr_entry, layers, cls, row, config, ctx_avg, kv_bytes_pos, layers_in, cls_in, kv_in):
    cycles = s3model.cycles_per_token(instr_entry)
    compute = cycles / (s3model.CLOCK_MHZ * 1e6)
    memory = (layers / BANDWIDTH[layers_in] + (cls + row) / BANDWIDTH[cls_in]
              + ctx_avg * kv_bytes_pos / BANDWIDTH[kv_in]) / MB
    return {"compute_s": compute, "memory_s": memory, "tok_s": 1.0 / (compute + memory), "cycles": cycles}


PLACES = (("all in quad flash", "quad_flash", "quad_flash"),
          ("layers in octal PSRAM (32-byte lines), classifier in quad flash", "octal_psram_32", "quad_flash"),
          ("layers in octal PSRAM (64-byte lines), classifier in quad flash", "octal_psram_64", "quad_flash"),
          ("classifier in octal PSRAM (32-byte lines), layers in quad flash", "quad_flash", "octal_psram_32"),
          ("classifier in octal PSRAM (64-byte lines), layers in quad flash", "quad_flash", "octal_psram_64"),
          ("all in octal flash", "octal_flash", "octal_flash"))


def print_estimates(r, model, kv):
    layers, cls, row, c = weight_bytes(model)
    kv_dim = c["dim"] * c["n_kv_heads"] // c["n_heads"]
    kv_pos = c["n_layers"] * 2 * kv_dim * (1 if kv == "int8" else 4)
    ctx_avg = c["seq_len"] / 2  # the KV cache read per token, averaged over a full context
    r["weight_bytes"] = {"layers": layers, "classifier": cls, "embedding_row": row}
    r["estimates"] = {label: estimate(r, layers, cls, row, c, ctx_avg, kv_pos, lw, cw, "octal_psram_32")
                      for label, lw, cw in PLACES}
    print(json.dumps({k: r.get(k) for k in ("instr_per_token", "kernel_instr_per_token", "weight_bytes",
                                            "estimates")}, indent=1))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host.int4_bench", description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--firmware", default=bench_s3.DEFAULT_ELF)
    ap.add_argument("--steps", type=int, nargs=2, default=(16, 48))
    ap.add_argument("--kv", default="f32", choices=("f32", "int8"))
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--from-json", help="the estimates from a measurement written with --json")
    args = ap.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            r = json.load(f)
        print_estimates(r, args.model, args.kv)
        return 0
    from host import s3harness  # noqa: F401  (the S3 tools' paths)
    qemu = None
    elf = args.firmware
    sections = bench_s3.map_sections(os.path.splitext(elf)[0] + ".map")
    syms = s3prof.symbols(elf)
    mixer = s3prof.Mixer(elf)
    with tempfile.TemporaryDirectory() as tmp:
        img = bench_s3.romfs_image(os.path.abspath(args.model), tmp, "m")
        r = bench_s3.measure(elf, sections, syms, mixer, img, args.kv, tuple(args.steps), qemu)
    print_estimates(r, args.model, args.kv)
    print(json.dumps(r["by_function"], indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
