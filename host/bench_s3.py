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
sampler, tokenizer), with the math library and libgcc's float helpers they
call; the rest is the interpreter, the llm package's bytecode, the binding
(modllm.c) and the console.

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
for piece in m.pieces(%(prompt)r, %(steps)d, 0.0):
    out.write(piece)
out.write(b'\\n')
"""

# Object files whose code counts as "the kernels" (see the module's doc).
KERNEL_OBJECTS = re.compile(r"/llm/(kernels|transformer|sampler|tokenizer|attention_q8|parallel)\.o$"
                            r"|/lib/libm/|libgcc\.a|libm\.a")


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


def by_object(log_text, sections):
    starts = [s for s, _, _ in sections]
    per = collections.Counter()
    blocks, _ = s3prof.parse(log_text)
    for pc, n in blocks:
        i = bisect.bisect_right(starts, pc) - 1
        obj = sections[i][2] if i >= 0 and pc < sections[i][1] else "?"
        per[obj] += n
    return per


def run_once(elf, romfs, kv, steps, qemu, timeout=3600):
    """(pcprof log text, console output) of one generation on a fresh emulator."""
    from host import emulator
    with tempfile.TemporaryDirectory() as tmp:
        log, prof = os.path.join(tmp, "qemu.log"), os.path.join(tmp, "prof.log")
        script = os.path.join(tmp, "gen.py")
        with open(script, "w") as f:
            f.write(SCRIPT % {"kv": kv, "prompt": PROMPT, "steps": steps})
        cmd = emulator.qemu_command(elf, romfs, s3=True, qemu=qemu) + s3prof.plugin_args(prof)
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
                raise RuntimeError("generation failed on s3sim:\n%s%s" % (r.stdout.decode(errors="replace"),
                                                                        r.stderr.decode(errors="replace")))
        finally:
            proc.terminate()
            proc.wait(30)
        with open(prof) as f:
            text = f.read()
        if "total " not in text:
            raise RuntimeError("the pcprof plugin wrote no totals (was qemu killed?)")
        return text, r.stdout


def measure(elf, sections, romfs, kv, steps, qemu):
    short, long_ = steps
    logs = [run_once(elf, romfs, kv, n, qemu)[0] for n in (short, long_)]
    totals = [s3prof.parse(t)[1] for t in logs]
    objs = [by_object(t, sections) for t in logs]
    per_token = (totals[1] - totals[0]) / (long_ - short)
    kernel = sum(objs[1][o] - objs[0][o] for o in set(objs[0]) | set(objs[1]) if KERNEL_OBJECTS.search(o))
    kernel_share = kernel / (totals[1] - totals[0])
    top = collections.Counter({o: (objs[1][o] - objs[0][o]) / (long_ - short) for o in set(objs[0]) | set(objs[1])})
    return {"instr_per_token": round(per_token), "kernel_share": round(kernel_share, 4),
            "steps": [short, long_],
            "by_object": {os.path.relpath(o, REPO) if o.startswith("/") else o: round(v)
                          for o, v in top.most_common(8)}}


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
    tmp = tempfile.mkdtemp()
    try:
        files = make_models(models, tmp)
        imgs = {k: romfs_image(v, tmp, k) for k, v in files.items()}
        plan = [("stories260K", "f32", imgs["f32"], "f32"), ("stories260K", "int8", imgs["int8"], "f32"),
                ("stories260K", "int8_kv8", imgs["int8"], "int8"), ("stories15M_shape", "int8", imgs["15M"], "f32")]
        result = {}
        for model, cfg, img, kv in plan:
            if only and model + "/" + cfg not in only:
                continue
            result.setdefault(model, {})[cfg] = measure(elf, sections, img, kv, STEPS[model], qemu)
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
    print("greedy, prompt %r, marginal (I(long) - I(short)) / (long - short)" % PROMPT)
    print("%-18s %-10s %10s %16s %16s" % ("model", "weights", "steps", "instr/token", "inside kernels"))
    for model, cfgs in result.items():
        for cfg, r in cfgs.items():
            print("%-18s %-10s %10s %14.3f M %15.1f%%" % (model, cfg, "%d->%d" % tuple(r["steps"]),
                                                          r["instr_per_token"] / 1e6, 100 * r["kernel_share"]))
    print()
    print("Where they go (per token, by object file):")
    for model, cfgs in result.items():
        for cfg, r in cfgs.items():
            print("  %s %s: %s" % (model, cfg, ", ".join("%s %.0fK" % (os.path.basename(o), v / 1e3)
                                                        for o, v in r["by_object"].items())))


if __name__ == "__main__":
    sys.exit(main())
