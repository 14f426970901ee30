"""Measure a board in one command, next to the S3 time model's estimate.

Puts the model into the board's ROMFS (python3 -m host deploy, skipped with
--no-deploy), runs llm.bench() on the board through mpremote (app/llm/bench.py:
tokens per second timed with time.ticks_us, and the read bandwidth of the
model file in flash and of a weights-sized buffer in the heap, which is PSRAM
on a board with PSRAM), and prints one Markdown table, measured against
estimated, to paste into an issue.  --json FILE keeps the figures; then
`python3 -m host s3-estimate build/bench-s3.json --bandwidths FILE` estimates
every configuration with the measured bandwidths.

The estimate needs the bench-s3 counts of the same model file (make bench-s3
writes build/bench-s3.json; it converts stories260K the way `make deploy`
does).  On the emulated S3 core (make emulator-s3) everything runs, but the
times are the emulator's wall time, which says nothing about a chip: the table
says so.

    python3 -m host bench-board PORT --model build/stories260K_int8.llm [--kv int8] [--threads 2] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from host import s3model
from host.paths import BUILD

SCRIPT = """
import json, llm
llm.threads(%(threads)d)
print('BENCH=' + json.dumps(llm.bench(%(path)r, %(tokenizer)r, steps=%(steps)d, skip=%(skip)d, kv=%(kv)r,
                                      ctx=%(ctx)r)))
"""

# What each board has (boards/esp32/README.md): its flash, and its PSRAM if any.
BOARDS = {"LLM_S3": None, "LLM_S3_SPIRAM": "quad_psram", "LLM_S3_SPIRAM_OCT": "octal_psram", "LLM_S3_OCTAL": "octal_psram"}


def guess_board(result):
    """The board whose memory matches the heap: no PSRAM (512 KB of SRAM at
    most), 2 MB of quad PSRAM, or more (the 8 MB octal module)."""
    heap = result["heap_bytes"]
    if heap <= 512 * 1024:
        return "LLM_S3"
    return "LLM_S3_SPIRAM" if heap <= 2 * 1024 * 1024 else "LLM_S3_SPIRAM_OCT"


def run_on_board(port, script, timeout):
    """The dict llm.bench() printed, from a script run by mpremote."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.py")
        with open(path, "w") as f:
            f.write(script)
        r = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "run", path],
                           capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("BENCH=")]
    if r.returncode != 0 or not lines:
        raise SystemExit("error: llm.bench() failed on %s:\n%s%s" % (port, r.stdout[-2000:], r.stderr[-2000:]))
    return json.loads(lines[-1][len("BENCH="):])


def find_entry(bench, result, kv):
    """(model, config, entry) of the bench-s3 measurement of this very file:
    same config, same file size, same KV cache; None when there is none."""
    from host.fileformat import CONFIG_NAMES
    config = dict(zip(CONFIG_NAMES, result["tokens"]["config"]))
    for model, cfgs in bench.items():
        for cfg, e in cfgs.items():
            if e.get("config") == config and e.get("file_bytes") == result["file_bytes"] \
                    and e.get("kv_cache", "f32") == kv:
                return model, cfg, e
    return None


def compare(result, board, flash, bench, kv):
    """{"rows": [(what, measured, estimate)], "bandwidth_mb_s": {memory: measured}, ...}"""
    psram = BOARDS[board]
    line = s3model.board_cache_line(board)
    heap_mem = psram if result["heap"] and result["heap"].get("psram") else "sram"
    weights_in = flash if result["file_in"] == "mapped" else heap_mem
    kv_in = psram or "sram"
    cores = 2 if result.get("threads", 1) >= 2 else 1
    measured = {}
    if result["flash"]:
        measured[flash] = result["flash"]["mb_s"]
    if result["heap"]:
        measured[heap_mem] = result["heap"]["mb_s"]
    found = find_entry(bench, result, kv) if bench else None
    tok = result["tokens"]
    first, last = tok["positions"]
    rows = []
    if found:
        model, cfg, entry = found
        sc = next((s for s in s3model.SCENARIOS if s[:2] == (board, weights_in)), None)
        sc = sc or (board, weights_in, float("inf"), kv_in, float("inf"))
        est = s3model.estimate(entry, sc)
        what = "%s %s, positions %d-%d" % (model, cfg, entry["steps"][0], entry["steps"][1] - 1)
        rows.append(("tokens/s, %d core%s (measured: positions %d-%d)" % (cores, "s" if cores > 1 else "", first,
                                                                         last - 1),
                     "%.2f" % tok["tok_s"], "%.1f (%s)" % (est["tok_s_estimate"][cores - 1], what)))
    else:
        rows.append(("tokens/s, %d core%s (positions %d-%d)" % (cores, "s" if cores > 1 else "", first, last - 1),
                     "%.2f" % tok["tok_s"], "no bench-s3 figures for this file (make bench-s3)"))
    for mem, label, key in ((flash, "flash, the model file read in place, MB/s", "flash"),
                            (heap_mem, "heap (%s), %s-byte buffer, MB/s" % (
                                "PSRAM" if heap_mem != "sram" else "internal SRAM",
                                result["heap"]["bytes"] if result["heap"] else 0), "heap")):
        if not result[key]:
            continue
        rows.append((label, "%.1f" % result[key]["mb_s"],
                     "%g (`%s` at %d-byte lines)" % (s3model.bandwidth_mb_s(mem, line), mem, line)))
    rows.append(("copy loop with every read a cache hit, MB/s", "%.0f" % result["cached_copy_mb_s"],
                 "(the loop's ceiling, not a memory)"))
    return {"rows": rows, "bandwidth_mb_s": measured, "cache_line": line, "weights_in": weights_in,
            "entry": found[:2] if found else None}


def table(result, board, guessed, flash, cmp, port):
    emulator = result["platform"] == "s3sim"
    head = ("bench-board: `%s` on %s (%s), board %s%s, flash %s, %d-byte cache lines, KV cache %s" % (
        result.get("path", "?"), port, result["machine"] or result["platform"], board,
        " (guessed from the heap; --board to set)" if guessed else "", flash, cmp["cache_line"],
        result["tokens"]["kv"]))
    lines = [head, ""]
    if emulator:
        lines += ["**Emulated ESP32-S3 core (QEMU): the measured figures are emulator wall time, not a chip's.**", ""]
    lines += ["| | measured | estimate (host/s3model.py) |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % row for row in cmp["rows"]]
    if result["tokens"]["stop"] != "steps":
        lines += ["", "The story ended at position %d (%s): fewer tokens were timed." % (
            result["tokens"]["positions"][1], result["tokens"]["stop"])]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host bench-board", description=__doc__.split("\n\n")[0])
    ap.add_argument("port", help="the board's serial port (make emulator-s3 prints one)")
    ap.add_argument("--model", required=True, help="the .llm file: deployed to the board's ROMFS first, unless "
                    "--no-deploy (then the path on the board, e.g. /rom/stories260K_int8.llm)")
    ap.add_argument("--no-deploy", action="store_true", help="the model is on the board already")
    ap.add_argument("--tokenizer", help="tokenizer path on the board (a llama2.c checkpoint needs one)")
    ap.add_argument("--kv", default="f32", choices=("f32", "int8"), help="KV cache type")
    ap.add_argument("--ctx", type=int, help="KV cache positions (default: the model's seq_len; at least --steps)")
    ap.add_argument("--steps", type=int, default=256, help="positions to generate (default: 256)")
    ap.add_argument("--skip", type=int, default=64, help="positions before the timing starts (default: 64, "
                    "as make bench-s3 counts)")
    ap.add_argument("--threads", type=int, default=1, choices=(1, 2), help="cores (llm.threads)")
    ap.add_argument("--board", choices=sorted(BOARDS), help="the board (default: guessed from the heap size)")
    ap.add_argument("--flash", default="quad_flash", choices=("quad_flash", "octal_flash"),
                    help="the module's flash (octal on N16R16V / N32R8V modules)")
    ap.add_argument("--bench-json", default=os.path.join(BUILD, "bench-s3.json"),
                    help="make bench-s3's counts, for the estimate (default: build/bench-s3.json)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON (s3-estimate --bandwidths FILE)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds the board may take")
    args = ap.parse_args(argv)
    if args.steps < 3 or not 0 < args.skip < args.steps - 1:
        raise SystemExit("error: want 0 < --skip < --steps - 1 and --steps >= 3")
    if args.ctx is not None and args.ctx < args.steps:
        raise SystemExit("error: --ctx %d is shorter than --steps %d" % (args.ctx, args.steps))
    if args.no_deploy:
        path = args.model
    else:
        if not os.path.isfile(args.model):
            raise SystemExit("error: %s not found" % args.model)
        from host import deploy
        print("deploying %s to %s's ROMFS" % (args.model, args.port), file=sys.stderr)
        rc = deploy.main([args.port, args.model])
        if rc:
            return rc
        path = "/rom/" + os.path.basename(args.model)
    bench = None
    if os.path.exists(args.bench_json):
        with open(args.bench_json) as f:
            bench = json.load(f)
    else:
        print("note: %s not found (make bench-s3): measured figures only" % args.bench_json, file=sys.stderr)
    print("running llm.bench() on %s (%d positions)" % (args.port, args.steps), file=sys.stderr)
    result = run_on_board(args.port, SCRIPT % {"threads": args.threads, "path": path, "tokenizer": args.tokenizer,
                                               "steps": args.steps, "skip": args.skip, "kv": args.kv,
                                               "ctx": args.ctx},
                          args.timeout)
    result["path"] = path
    board = args.board or guess_board(result)
    cmp = compare(result, board, args.flash, bench, args.kv)
    sys.stdout.write(table(result, board, args.board is None, args.flash, cmp, args.port))
    if args.json:
        out = {"board": board, "cache_line": cmp["cache_line"], "bandwidth_mb_s": cmp["bandwidth_mb_s"],
               "emulator": result["platform"] == "s3sim", "tok_s": result["tokens"]["tok_s"],
               "bench_s3_entry": cmp["entry"], "rows": cmp["rows"], "result": result}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print("wrote %s (python3 -m host s3-estimate %s --bandwidths %s)" % (args.json, args.bench_json, args.json),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
