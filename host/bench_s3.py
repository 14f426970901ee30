"""Executed ESP32-S3 instructions per generated token, on the emulated core.

The s3sim firmware (boards/s3sim, built with an 8 MB heap and a 16 MB ROMFS,
room for stories15M in int8) runs the llm package from a ROMFS image on QEMU's
esp32s3 core, greedy, prompt "Once upon a time", as `make bench` does on the
host.  Every executed instruction is counted by the pcprof TCG plugin
(tests/s3kernels/pcprof.c), per translated block.  The figure is the
marginal between two step counts, (I(LONG) - I(SHORT)) / (LONG - SHORT), so
boot, the REPL, loading the model and the prompt cancel out.

The blocks are mapped to the firmware's functions through the linker map,
and each function to its object file, which gives the share inside the
kernels: the _llm C code other than the binding (kernels, transformer,
sampler, tokenizer, esp-nn), with the math library and libgcc's float
helpers they call; the rest is the interpreter, the llm package's bytecode,
the binding (modllm.c) and the console.  The console's idle wait (the REPL
polling for input while mpremote talks to it, which takes wall-clock time)
is left out: it differs from run to run and is not generation.

The JSON also carries what the S3 time model (host/s3model.py) needs: the
instruction mix per token (host/s3prof.py), the instructions in the matmuls
and the attention, the model's config and the weight bytes one token reads.

    python3 -m host bench-s3 [--json] [--firmware build/s3sim-bench/firmware.elf]
"""
import argparse
import bisect
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from host import s3prof
from host import paths
from host.paths import BUILD, MODELS, REPO
DEFAULT_ELF = os.path.join(BUILD, "s3sim-bench", "firmware.elf")
PROMPT = "Once upon a time"
# Models, as the JSON names them.  "dim288_vocab512" is a random-weight model
# of stories15M's layers with a 512-token vocabulary (host/bench.py's SHAPE15M):
# it is not stories15M, whose 32000 x 288 classifier makes a token read 2.5 times
# the bytes; "stories15M" is the real one (../shared/models/stories15M.bin).
LABELS = {"stories260K": "stories260K",
          "dim288_vocab512": "dim-288 6-layer model, vocab 512 (random weights)",
          "stories15M": "stories15M (vocab 32000)"}
# Step counts of the marginal.  stories15M's greedy story may end (BOS) before
# 256 tokens, and its seq_len is 256: 32 -> 160 stays inside one story.
STEPS = {"stories260K": (64, 256), "dim288_vocab512": (64, 256), "stories15M": (32, 160)}
# What is measured: (model, configuration, .llm file, KV cache).  The .llm
# files are made by make_models; "int8" serves both KV caches.  The fp32
# stories15M (60 MB) fits no ESP32-S3 flash and not the emulated ROMFS (16 MB):
# it has no row.
PLAN = [("stories260K", "f32", "stories260K_f32", "f32"),
        ("stories260K", "int8", "stories260K_int8", "f32"),
        ("stories260K", "int8_kv8", "stories260K_int8", "int8"),
        ("stories260K", "int4", "stories260K_int4", "f32"),
        ("dim288_vocab512", "int8", "dim288_vocab512_int8", "f32"),
        ("dim288_vocab512", "int8_kv8", "dim288_vocab512_int8", "int8"),
        ("stories15M", "int8", "stories15M_int8", "f32"),
        ("stories15M", "int8_kv8", "stories15M_int8", "int8"),
        ("stories15M", "int4", "stories15M_int4", "f32"),
        ("stories15M", "int4_kv8", "stories15M_int4", "int8")]

SCRIPT = """
import sys, llm
m = llm.load('/rom/m.llm', kv=%(kv)r)
out = getattr(sys.stdout, 'buffer', sys.stdout)
n = 0
for piece in m.pieces(%(prompt)r, %(steps)d, 0.0):
    out.write(piece.replace(b'\\x04', b'?'))  # 0x04 would end mpremote's raw REPL output
    n += 1
out.write(b'\\nTOKENS=%%d\\n' %% n)
i = m.info()
out.write(b'LOAD_BYTES=%%d %%d\\n' %% (i['kv_bytes'], i['activation_bytes']))
"""

# Object files whose code counts as "the kernels" (see the module's doc).
KERNEL_OBJECTS = re.compile(r"/llm/(?!modllm)[^/]+\.o$|/lib/libm/|libgcc\.a|libm\.a|esp.?nn")


def map_sections(map_path):
    """Sorted [(start, end, object)] of the code input sections in a GNU ld map."""
    out = []
    pending = None
    with open(map_path) as f:
        for line in f:
            m = re.match(r"^ (\.(?:text|literal|iram1|init|fini)\S*)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
            if m:
                start, size = int(m.group(2), 16), int(m.group(3), 16)
                if size:
                    out.append((start, start + size, m.group(4)))
                pending = None
                continue
            m = re.match(r"^ (\.(?:text|literal|iram1|init|fini)\S*)\s*$", line)
            if m:
                pending = m.group(1)
                continue
            m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
            if m and pending:
                start, size = int(m.group(1), 16), int(m.group(2), 16)
                if size:
                    out.append((start, start + size, m.group(3)))
            pending = None
    out.sort()
    return out


def run_script(elf, romfs, script_text, qemu=None, timeout=3600, profile=True):
    """(console output bytes, pcprof log text) of a script run by mpremote on a
    fresh emulated S3 core with the ROMFS image romfs (or none); without
    profile, no plugin and no log (None).  Raises RuntimeError when QEMU does
    not start or the script fails."""
    from host import emulator
    with tempfile.TemporaryDirectory() as tmp:
        log, prof = os.path.join(tmp, "qemu.log"), os.path.join(tmp, "prof.log")
        script = os.path.join(tmp, "script.py")
        with open(script, "w") as f:
            f.write(script_text)
        cmd = emulator.qemu_command(elf, romfs, s3=True, qemu=qemu) + (s3prof.plugin_args(prof) if profile else [])
        with open(log, "wb") as logf:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            pty = None
            while pty is None:
                with open(log, "rb") as f:
                    m = emulator.PTY_RE.search(f.read())
                if m:
                    pty = m.group(1).decode()
                elif proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("qemu did not start: " + open(log).read())
                else:
                    time.sleep(0.05)
            r = subprocess.run([sys.executable, "-m", "mpremote", "connect", pty, "run", script],
                               capture_output=True, timeout=timeout)
            if r.returncode != 0 or b"Traceback" in r.stdout + r.stderr:
                raise RuntimeError("the script failed on s3sim:\n%s%s" % (r.stdout.decode(errors="replace"),
                                                                          r.stderr.decode(errors="replace")))
        finally:
            proc.terminate()
            proc.wait(30)
        if not profile:
            return r.stdout, None
        with open(prof) as f:
            text = f.read()
        if "total " not in text:
            raise RuntimeError("the pcprof plugin wrote no totals (was qemu killed?)")
        return r.stdout, text


def run_once(elf, romfs, kv, steps, qemu, timeout=3600):
    """(pcprof log text, console output) of one generation on a fresh emulator."""
    out, text = run_script(elf, romfs, SCRIPT % {"kv": kv, "prompt": PROMPT, "steps": steps}, qemu, timeout)
    return text, out


# The console's idle wait: while mpremote sends the script, and after it, the
# REPL polls the console for as long as the host takes (wall-clock time, so a
# different count on every run).  Its instructions are left out of every
# figure; the VM hook's polls between tokens go with them (a few dozen
# instructions per token at most).
IDLE_FUNCTIONS = frozenset(("mp_hal_stdin_rx_chr", "s3sim_poll_console", "mp_handle_pending", "sim_wait_input",
                            "sim_sleep_us"))
# Functions whose instructions are the matmuls and the attention, for the
# two-core split of the time model (host/s3model.py).
MATMUL_FUNCTIONS = re.compile(r"matmul|esp_nn_|dot_s8|rows_q4")
ATTENTION_FUNCTIONS = re.compile(r"attention|att_q8|scores|values|softmax|div_all|expf")


class Profile:
    """Attribution of one pcprof log: totals without the idle wait, per object
    file, per function, and the instruction mix (host/s3prof.py)."""

    def __init__(self, log_text, sections, syms, mixer):
        starts = [s for s, _, _ in sections]
        fname = s3prof.function_of(syms)
        blocks, _ = s3prof.parse_blocks(log_text)
        self.objects, self.functions = collections.Counter(), collections.Counter()
        self.idle = 0
        counted = []
        for pc, n, count in blocks:
            f = fname(pc)
            if f in IDLE_FUNCTIONS:
                self.idle += n * count
                continue
            counted.append((pc, n, count))
            i = bisect.bisect_right(starts, pc) - 1
            obj = sections[i][2] if i >= 0 and pc < sections[i][1] else "?"
            self.objects[obj] += n * count
            self.functions[f] += n * count
        self.total = sum(self.functions.values())
        self.mix = mixer.mix(counted) if mixer else collections.Counter()


def marginal(a, b, steps):
    """Per-token difference of two Counters."""
    return {k: (b[k] - a[k]) / steps for k in set(a) | set(b)}


def measure(elf, sections, syms, mixer, romfs, kv, steps, qemu):
    short, long_ = steps
    runs = [run_once(elf, romfs, kv, n, qemu) for n in (short, long_)]
    profs = [Profile(log, sections, syms, mixer) for log, _ in runs]
    # Both runs must generate every step: a story that ends early (the model
    # gave BOS) would make the difference count fewer tokens than it divides by.
    counts = [int(re.search(rb"TOKENS=(\d+)", out).group(1)) for _, out in runs]
    # What llm.load allocates at the model's whole context (m.info()): the
    # time model's RAM-copy rule needs it.
    load_kv, load_act = (int(v) for v in re.search(rb"LOAD_BYTES=(\d+) (\d+)", runs[0][1]).groups())
    if counts[1] - counts[0] != long_ - short:
        raise RuntimeError("generation ended early (%d and %d tokens for %d and %d steps): the figure "
                           "would not be per token" % (counts[0], counts[1], short, long_))
    span = long_ - short
    per_token = (profs[1].total - profs[0].total) / span
    objs = marginal(profs[0].objects, profs[1].objects, span)
    funcs = marginal(profs[0].functions, profs[1].functions, span)
    kernel = sum(v for o, v in objs.items() if KERNEL_OBJECTS.search(o))
    top_objs = sorted(objs.items(), key=lambda kv: -kv[1])[:10]
    top_funcs = sorted(funcs.items(), key=lambda kv: -kv[1])[:16]
    mix = marginal(profs[0].mix, profs[1].mix, span)
    return {"instr_per_token": round(per_token),
            "kernel_instr_per_token": round(kernel),
            "interpreter_instr_per_token": round(per_token - kernel),
            "kernel_share": round(kernel / per_token, 4),
            "matmul_instr_per_token": round(sum(v for f, v in funcs.items() if MATMUL_FUNCTIONS.search(f))),
            "attention_instr_per_token": round(sum(v for f, v in funcs.items()
                                                   if ATTENTION_FUNCTIONS.search(f) and not MATMUL_FUNCTIONS.search(f))),
            "idle_wait_excluded": [p.idle for p in profs],
            "steps": [short, long_],
            "load_kv_bytes": load_kv, "load_activation_bytes": load_act,
            "mix_per_token": {k: round(v, 1) for k, v in sorted(mix.items()) if v or k.startswith("stall_")},
            "by_object": {os.path.relpath(o, REPO) if o.startswith("/") else o: round(v) for o, v in top_objs},
            "by_function": {f: round(v) for f, v in top_funcs}}


def model_facts(path):
    """The config of a .llm file, and the bytes of weights one token reads:
    every matrix once (the classifier too, shared or not), one embedding
    row, the norms.  int8 rows are padded to their group size, with one
    2-byte scale per group (docs/format.md)."""
    from host import modelfile
    from host.fileformat import LAYER_TENSORS, Q4, Q8, CONFIG_NAMES, row_bytes, shape

    with open(path, "rb") as f:
        data = f.read()
    header = modelfile.read_header(data)
    table = modelfile.read_table(data, header)
    c = header["config"]
    cfg = [c[n] for n in CONFIG_NAMES]
    names = ["embedding"] + list(LAYER_TENSORS) * c["n_layers"] + ["rms_final", "classifier"]
    names = [(n, shape(n, cfg)) for n in names]

    def nbytes(entry, rows, cols):
        _, kind, gs, _ = entry
        if kind in (Q8, Q4):
            return rows * row_bytes(cols, gs, kind) + rows * (-(-cols // gs)) * 2
        return rows * cols * 4
    streamed = layers = 0
    for (name, (rows, cols)), entry in zip(names, table):
        streamed += nbytes(entry, 1 if name == "embedding" else rows, cols)
        if name in LAYER_TENSORS:
            layers += nbytes(entry, rows, cols)
    rows, cols = names[-1][1]
    # The two parts llm.load(place=...) may copy into RAM (app/llm/model.py):
    # the layers' tensors, and the classifier (the embedding too when shared).
    return {"config": c, "weight_bytes_per_token": streamed, "file_bytes": len(data),
            "layer_bytes": layers, "classifier_bytes": nbytes(table[-1], rows, cols),
            "weights_int8": any(e[1] == Q8 for e in table), "weights_int4": any(e[1] == Q4 for e in table)}


def make_models(models, tmp, needed, stories15m=None, tokenizer=None):
    """{name: .llm path} of the files PLAN names that are needed: stories260K
    fp32 and int8, the random dim-288 vocab-512 int8, stories15M int8."""
    from host import bench
    tok512 = os.path.join(models, "tok512.bin")
    recipes = {
        "stories260K_f32": [sys.executable, "-m", "host.convert", os.path.join(models, "stories260K.bin"), tok512],
        "stories260K_int8": [sys.executable, "-m", "host.convert", os.path.join(models, "stories260K.bin"), tok512,
                             "--int8"],
        "stories260K_int4": [sys.executable, "-m", "host.convert", os.path.join(models, "stories260K.bin"), tok512,
                             "--weights", "int4"],
        "stories15M_int8": [sys.executable, "-m", "host.convert", stories15m, tokenizer, "--int8"],
        "stories15M_int4": [sys.executable, "-m", "host.convert", stories15m, tokenizer, "--weights", "int4"],
    }
    out = {}
    for name in sorted(needed):
        path = os.path.join(tmp, name + ".llm")
        if name == "dim288_vocab512_int8":
            cmd = [sys.executable, "-c", bench.SHAPE15M % {"out": path, "tok": tok512}]
        else:
            cmd = recipes[name]
            cmd = cmd[:5] + [path] + cmd[5:]
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
        out[name] = path
    return out


def romfs_image(model, tmp, name):
    """A ROMFS image holding the model as /rom/m.llm."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    os.link(model, os.path.join(d, "m.llm"))
    img = os.path.join(tmp, name + ".romfs")
    subprocess.run([sys.executable, "-m", "host", "romfs", img, os.path.join(d, "m.llm")], check=True,
                   capture_output=True, cwd=REPO)
    return img


def run_all(elf, models, qemu, only=None, stories15m=None, tokenizer=None):
    sections = map_sections(os.path.splitext(elf)[0] + ".map")
    syms = s3prof.symbols(elf)
    mixer = s3prof.Mixer(elf)
    plan = [p for p in PLAN if not only or p[0] + "/" + p[1] in only]
    if not (stories15m and tokenizer):
        plan = [p for p in plan if p[0] != "stories15M"]
    tmp = tempfile.mkdtemp()
    try:
        files = make_models(models, tmp, {p[2] for p in plan}, stories15m, tokenizer)
        imgs = {k: romfs_image(v, tmp, k) for k, v in files.items()}
        result = {}
        for model, cfg, name, kv in plan:
            r = measure(elf, sections, syms, mixer, imgs[name], kv, STEPS[model], qemu)
            facts = model_facts(files[name])
            r.update(label=LABELS[model], config=facts["config"], file_bytes=facts["file_bytes"],
                     weight_bytes_per_token=facts["weight_bytes_per_token"], kv_cache=kv,
                     layer_bytes=facts["layer_bytes"], classifier_bytes=facts["classifier_bytes"])
            result.setdefault(model, {})[cfg] = r
        return result
    finally:
        shutil.rmtree(tmp)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host bench-s3", description=__doc__.split("\n\n")[0])
    ap.add_argument("--firmware", default=DEFAULT_ELF, help="s3sim firmware ELF, with its .map beside it")
    ap.add_argument("--models", default=MODELS, help="folder with stories260K.bin, tok512.bin")
    ap.add_argument("--qemu", default=None, help="qemu-system-xtensa with the esp32s3 core")
    ap.add_argument("--stories15m", default=paths.model("stories15M.bin"),
                    help="stories15M.bin, measured in int8 (default: models/, else %s); '' leaves it out"
                    % paths.SHARED_MODELS)
    ap.add_argument("--tokenizer", default=paths.model("tokenizer.bin"), help="its 32000-token tokenizer.bin")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--only", action="append", help="e.g. stories260K/f32 (repeatable; %s)"
                    % ", ".join(m + "/" + c for m, c, _, _ in PLAN))
    ap.add_argument("--from-json", metavar="FILE", help="print the table of an earlier --json run; measure nothing")
    args = ap.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            print_table(json.load(f))
        return 0
    for path in (args.firmware, os.path.splitext(args.firmware)[0] + ".map", s3prof.PCPROF):
        if not os.path.exists(path):
            sys.exit("error: %s not found (make bench-s3 builds it)" % path)
    for name in ("stories260K.bin", "tok512.bin"):
        if not os.path.exists(os.path.join(args.models, name)):
            sys.exit("error: %s not found in %s (make models)" % (name, args.models))
    s15 = args.stories15m
    if s15 and not (os.path.exists(s15) and os.path.exists(args.tokenizer)):
        sys.stderr.write("note: %s or %s not found: stories15M is not measured\n" % (s15, args.tokenizer))
        s15 = None
    unknown = set(args.only or ()) - {m + "/" + c for m, c, _, _ in PLAN}
    if unknown:
        sys.exit("error: --only %s: not measured here (known: %s)" % (", ".join(sorted(unknown)),
                                                                    ", ".join(m + "/" + c for m, c, _, _ in PLAN)))
    result = run_all(args.firmware, args.models, args.qemu, args.only, s15, args.tokenizer)
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
        return 0
    print_table(result)
    return 0


def print_table(result):
    from host.s3model import ordered
    print("Executed S3 instructions per generated token (measured on the emulated core, pcprof plugin),")
    print("greedy, prompt %r, marginal (I(long) - I(short)) / (long - short), console idle wait excluded" % PROMPT)
    print("%-18s %-9s %9s %13s %13s %13s %8s" % ("model", "weights", "steps", "instr/token", "kernels",
                                                 "interpreter", "kernels"))
    for model, cfg, r in ordered(result):
        print("%-18s %-9s %9s %11.3f M %11.3f M %11.3f M %7.1f%%" % (
            model, cfg, "%d->%d" % tuple(r["steps"]), r["instr_per_token"] / 1e6,
            r.get("kernel_instr_per_token", r["instr_per_token"] * r["kernel_share"]) / 1e6,
            r.get("interpreter_instr_per_token", r["instr_per_token"] * (1 - r["kernel_share"])) / 1e6,
            100 * r["kernel_share"]))
    names = {m: LABELS[m] for m in result if LABELS.get(m, m) != m}
    if names:
        print("models: " + "; ".join("%s = %s" % kv for kv in names.items()))
    print()
    print("Where they go (per token, by function):")
    for model, cfg, r in ordered(result):
        top = sorted((r.get("by_function") or r["by_object"]).items(), key=lambda kv: -kv[1])[:10]
        print("  %s %s: %s" % (model, cfg, ", ".join("%s %.0fK" % (os.path.basename(o), v / 1e3) for o, v in top)))


if __name__ == "__main__":
    sys.exit(main())
