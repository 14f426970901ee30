"""Run the bare-metal kernel harness (tests/s3kernels) on the emulated ESP32-S3.

The harness ELF reads a parameter block, a llama2.c checkpoint and a
tokenizer.bin from system RAM, where QEMU's generic loader puts them; see
tests/s3kernels/harness.c for the addresses and modes.  Instruction counts
come from the libinsn plugin, which prints "insns: N" when the core exits.

    make s3-harness && python3 -m host.s3harness check
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

from host.paths import REPO, S3_BIN, SHARED_MODELS
from host.paths import S3_QEMU as QEMU, S3_QEMU_PLUGINS as PLUGINS
from host.fileformat import TYPE_NAMES
ELF = os.path.join(REPO, "build", "s3kernels", "harness.elf")
HOST = os.path.join(REPO, "build", "s3kernels", "harness-host")

# Must match harness.c.
PARAMS, MODEL, TOKFILE = 0x60000000, 0x60100000, 0x60380000
MAGIC = 0x48334b53
MODES = {"check": 0, "count": 1, "gen": 2}


def params(mode, a=0, b=0, c=0, tok_len=0, prompt=""):
    head = struct.pack("<6I", MAGIC, MODES[mode], a, b, c, tok_len).ljust(64, b"\0")
    return head + prompt.encode() + b"\0"


def run(block, model=None, tok=None, count=False, elf=ELF, timeout=600, profile=False):
    """(exit status, stdout bytes, instructions or None) of one run on the emulated core.
    With profile, the third item is the pcprof log's text instead (see host/s3prof.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        pfile = os.path.join(tmp, "params.bin")
        with open(pfile, "wb") as f:
            f.write(block)
        cmd = [QEMU, "-M", "sim", "-cpu", "esp32s3", "-m", "128M", "-semihosting", "-nographic",
               "-monitor", "none", "-kernel", elf,
               "-device", "loader,file=%s,addr=0x%x,force-raw=on" % (pfile, PARAMS)]
        if model:
            cmd += ["-device", "loader,file=%s,addr=0x%x,force-raw=on" % (model, MODEL)]
        if tok:
            cmd += ["-device", "loader,file=%s,addr=0x%x,force-raw=on" % (tok, TOKFILE)]
        log = os.path.join(tmp, "insn.log")
        if count:
            cmd += ["-plugin", os.path.join(PLUGINS, "libinsn.so"), "-d", "plugin", "-D", log]
        elif profile:
            from host import s3prof
            cmd += s3prof.plugin_args(log)
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
        if profile:
            with open(log) as f:
                return r.returncode, r.stdout, f.read()
        insns = None
        if count:
            with open(log) as f:
                m = re.search(r"insns: (\d+)", f.read())
            insns = int(m.group(1)) if m else None
        return r.returncode, r.stdout, insns


def check():
    """The check mode's output on the S3 core."""
    return run(params("check"))


def count_kernel(which, reps=(1, 11)):
    """Marginal instructions of one call of kernel case `which` (see harness.c)."""
    lo, hi = [run(params("count", which, n), count=True)[2] for n in reps]
    return (hi - lo) / (reps[1] - reps[0])


def gen(model, tok, steps, kv="f32", logit_hash=False, prompt="Once upon a time", count=False, profile=False):
    """kv: the KV cache's type by name (fileformat.TYPE_NAMES)."""
    return run(params("gen", steps, TYPE_NAMES.index(kv), int(logit_hash), os.path.getsize(tok), prompt),
               model=model, tok=tok, count=count, profile=profile)


def gen_host(model, tok, steps, kv="f32", logit_hash=False, prompt="Once upon a time"):
    r = subprocess.run([HOST, "gen", model, tok, str(steps), str(TYPE_NAMES.index(kv)), str(int(logit_hash)), prompt],
                       capture_output=True, timeout=600)
    return r.returncode, r.stdout


COUNT_CASES = {
    1: "matmul_f32 64x64", 2: "matmul_f32 n=172 d=64", 3: "matmul_f32 n=64 d=512 (classifier)",
    4: "matmul_q8 64x64 gs=64", 5: "attention_f32 pos=159 hs=8", 6: "attention_q8_cache pos=159 hs=8",
    7: "rmsnorm 64", 8: "softmax 160", 9: "swiglu 172", 10: "quantize_q8 64", 11: "matmul_q8 n=172 d=64 gs=43",
    12: "matmul_q4 n=288 d=64 gs=32 plain scales", 13: "matmul_q4 n=288 d=64 gs=32 general",
}
MACS = {1: 64 * 64, 2: 172 * 64, 3: 64 * 512, 4: 64 * 64, 5: 160 * 8 * 2, 6: 160 * 8 * 2, 11: 172 * 64,
        12: 288 * 64, 13: 288 * 64}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "counts":
        for k, name in COUNT_CASES.items():
            n = count_kernel(k)
            extra = " (%.2f per multiply-add)" % (n / MACS[k]) if k in MACS else ""
            print("%-40s %10.0f%s" % (name, n, extra))
        return 0
    if argv and argv[0] == "profile":
        # Marginal instructions per token of the C forward pass, by function.
        from host import s3prof
        models = argv[1] if len(argv) > 1 else SHARED_MODELS
        syms = s3prof.symbols(ELF)
        kv = "int8" if len(argv) > 2 and argv[2] == "kv8" else "f32"
        per = []
        for steps in (64, 256):
            rc, out, log = gen(os.path.join(models, "stories260K.bin"), os.path.join(models, "tok512.bin"), steps,
                               kv=kv, profile=True)
            per.append(s3prof.by_function(log, syms))
        diff = {k: (per[1][k] - per[0][k]) / 192 for k in set(per[0]) | set(per[1])}
        total = sum(diff.values())
        print("marginal instructions per token, C forward (64 -> 256 steps): %.0f" % total)
        for k, v in sorted(diff.items(), key=lambda kv: -kv[1])[:20]:
            print("  %-28s %10.0f  %5.1f%%" % (k, v, 100 * v / total))
        return 0
    if argv and argv[0] == "gen":
        models = argv[1] if len(argv) > 1 else SHARED_MODELS
        steps = int(argv[2]) if len(argv) > 2 else 256
        rc, out, n = gen(os.path.join(models, "stories260K.bin"), os.path.join(models, "tok512.bin"), steps,
                         count=True)
        sys.stdout.write(out.decode(errors="replace"))
        print("exit %d, %s instructions" % (rc, n))
        return rc
    rc, out, _ = check()
    sys.stdout.write(out.decode(errors="replace"))
    return rc


if __name__ == "__main__":
    sys.exit(main())
