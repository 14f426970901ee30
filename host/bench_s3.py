"""Executed ESP32-S3 instructions per generated token, on the emulated core.

The s3sim firmware (boards/s3sim, built with a heap and ROMFS big enough for a
stories15M-shaped model) runs the llm package from a ROMFS image on QEMU's
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ELF = os.path.join(REPO, "build", "s3sim-bench", "firmware.elf")
PROMPT = "Once upon a time"
STEPS = {"stories260K": (64, 256), "stories15M_shape": (64, 256)}

SCRIPT = """
import sys, llm
m = llm.load('/rom/m.llm', kv=%(kv)r)
out = getattr(sys.stdout, 'buffer', sys.stdout)
n = 0
for piece in m.pieces(%(prompt)r, %(steps)d, 0.0):
    out.write(piece.replace(b'\\x04', b'?'))  # 0x04 would end mpremote's raw REPL output
    n += 1
out.write(b'\\nTOKENS=%%d\\n' %% n)
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
MATMUL_FUNCTIONS = re.compile(r"matmul|esp_nn_|dot_s8")
ATTENTION_FUNCTIONS = re.compile(r"attention|scores|values|softmax|div_all|expf")


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
            "mix_per_token": {k: round(v, 1) for k, v in sorted(mix.items()) if v or k.startswith("stall_")},
            "by_object": {os.path.relpath(o, REPO) if o.startswith("/") else o: round(v) for o, v in top_objs},
            "by_function": {f: round(v) for f, v in top_funcs}}


def model_facts(path):
    """The config of a .llm file, and the bytes of weights one token reads:
    every matrix once (the classifier too, shared or not), one embedding
    row, the norms.  int8 rows are padded to their group size, with one
    2-byte scale per group (docs/format.md)."""
    from host import modelfile
    from host.fileformat import LAYER_TENSORS, Q8

    def padded_cols(cols, gs):
        return (cols + gs - 1) // gs * gs
    with open(path, "rb") as f:
        data = f.read()
    header = modelfile.read_header(data)
    table = modelfile.read_table(data, header)
    c = header["config"]
    dim, hidden, kv_dim = c["dim"], c["hidden_dim"], c["dim"] * c["n_kv_heads"] // c["n_heads"]
    shapes = {"wq": (dim, dim), "wk": (kv_dim, dim), "wv": (kv_dim, dim), "wo": (dim, dim),
              "w1": (hidden, dim), "w2": (dim, hidden), "w3": (hidden, dim), "rms_att": (1, dim), "rms_ffn": (1, dim)}
    names = [("embedding", (c["vocab_size"], dim))]
    for _ in range(c["n_layers"]):
        names += [(t, shapes[t]) for t in LAYER_TENSORS]
    names += [("rms_final", (1, dim)), ("classifier", (c["vocab_size"], dim))]

    def nbytes(entry, rows, cols):
        _, kind, gs, _ = entry
        if kind == Q8:
            width = padded_cols(cols, gs)
            return rows * width + rows * (width // gs) * 2
        return rows * cols * 4
    streamed = 0
    for (name, (rows, cols)), entry in zip(names, table):
        streamed += nbytes(entry, 1 if name == "embedding" else rows, cols)
    return {"config": c, "weight_bytes_per_token": streamed, "file_bytes": len(data),
            "weights_int8": any(e[1] == Q8 for e in table)}


def make_models(models, tmp):
    """The .llm files: stories260K fp32 and int8, and the random stories15M-shaped int8."""
    from host import bench
    src, tok = os.path.join(models, "stories260K.bin"), os.path.join(models, "tok512.bin")
    out = {}
    for name, flags in (("f32", []), ("int8", ["--int8"])):
        path = os.path.join(tmp, "stories260K_%s.llm" % name)
        subprocess.run([sys.executable, "-m", "host.convert", src, tok, path] + flags, check=True,
                       capture_output=True, cwd=REPO)
        out[name] = path
    big = os.path.join(tmp, "shape15M_int8.llm")
    subprocess.run([sys.executable, "-c", bench.SHAPE15M % {"out": big, "tok": tok}], check=True, cwd=REPO,
                   capture_output=True)
    out["15M"] = big
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


def run_all(elf, models, qemu, only=None):
    sections = map_sections(os.path.splitext(elf)[0] + ".map")
    syms = s3prof.symbols(elf)
    mixer = s3prof.Mixer(elf)
    tmp = tempfile.mkdtemp()
    try:
        files = make_models(models, tmp)
        imgs = {k: romfs_image(v, tmp, k) for k, v in files.items()}
        plan = [("stories260K", "f32", imgs["f32"], "f32"), ("stories260K", "int8", imgs["int8"], "f32"),
                ("stories260K", "int8_kv8", imgs["int8"], "int8"), ("stories15M_shape", "int8", imgs["15M"], "f32"),
                ("stories15M_shape", "int8_kv8", imgs["15M"], "int8")]
        result = {}
        for model, cfg, img, kv in plan:
            if only and model + "/" + cfg not in only:
                continue
            r = measure(elf, sections, syms, mixer, img, kv, STEPS[model], qemu)
            facts = model_facts(files[{"f32": "f32", "int8": "int8", "int8_kv8": "int8"}[cfg]
                                     if model == "stories260K" else "15M"])
            r.update(config=facts["config"], weight_bytes_per_token=facts["weight_bytes_per_token"],
                     file_bytes=facts["file_bytes"], kv_cache=kv)
            result.setdefault(model, {})[cfg] = r
        return result
    finally:
        shutil.rmtree(tmp)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host bench-s3", description=__doc__.split("\n\n")[0])
    ap.add_argument("--firmware", default=DEFAULT_ELF, help="s3sim firmware ELF, with its .map beside it")
    ap.add_argument("--models", default=os.path.join(REPO, "models"), help="folder with stories260K.bin, tok512.bin")
    ap.add_argument("--qemu", default=None, help="qemu-system-xtensa with the esp32s3 core")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--only", action="append", help="e.g. stories260K/f32 (repeatable)")
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
    result = run_all(args.firmware, args.models, args.qemu, args.only)
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
        return 0
    print_table(result)
    return 0


def print_table(result):
    print("Executed S3 instructions per generated token (measured on the emulated core, pcprof plugin),")
    print("greedy, prompt %r, marginal (I(long) - I(short)) / (long - short), console idle wait excluded" % PROMPT)
    print("%-18s %-9s %9s %13s %13s %13s %8s" % ("model", "weights", "steps", "instr/token", "kernels",
                                                 "interpreter", "kernels"))
    for model, cfgs in result.items():
        for cfg, r in cfgs.items():
            print("%-18s %-9s %9s %11.3f M %11.3f M %11.3f M %7.1f%%" % (
                model, cfg, "%d->%d" % tuple(r["steps"]), r["instr_per_token"] / 1e6,
                r.get("kernel_instr_per_token", r["instr_per_token"] * r["kernel_share"]) / 1e6,
                r.get("interpreter_instr_per_token", r["instr_per_token"] * (1 - r["kernel_share"])) / 1e6,
                100 * r["kernel_share"]))
    print()
    print("Where they go (per token, by function):")
    for model, cfgs in result.items():
        for cfg, r in cfgs.items():
            top = sorted((r.get("by_function") or r["by_object"]).items(), key=lambda kv: -kv[1])[:10]
            print("  %s %s: %s" % (model, cfg, ", ".join("%s %.0fK" % (os.path.basename(o), v / 1e3)
                                                        for o, v in top)))


if __name__ == "__main__":
    sys.exit(main())
