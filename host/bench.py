"""Benchmark the host firmware on stories260K.

Instructions per token are counted by callgrind, which makes them
deterministic: (I(n=256) - I(n=64)) / 192 with -t 0 -i "Once upon a time",
the same measure as for llama2.c's run.c.  The share outside the C kernels
is the part of those marginal instructions not spent inside llm_forward,
llm_sample or llm_tok_decode: the interpreter, the Python package and the
binding glue.

    python3 host/bench.py --firmware build/micropython --models models
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from host.paths import REPO

PROMPT = "Once upon a time"
SHORT, LONG = 64, 256
# A random-weight model of stories15M's shape (the split only pays on
# matrices this size), with the 512-token vocabulary to keep it small.
SHAPE15M = """
from host import llama2, modelfile
cfg = dict(dim=288, hidden_dim=768, n_layers=6, n_heads=6, n_kv_heads=6, vocab_size=512, seq_len=256)
cfg, w = llama2.random_weights(cfg, seed=1)
# BOS's classifier row (shared with its embedding) as zeros: its logit is 0, below the
# largest of 511 random logits, so greedy never ends the story early and every step
# of a long run is a token.
w["token_embedding_table"][1] = 0
modelfile.write(%(out)r, cfg, w, open(%(tok)r, 'rb').read(), dtype='int8')
"""
KERNEL_ENTRIES = ("llm_forward", "llm_sample", "llm_tok_decode")
# llama2.c's run.c, gcc -O3, stories260K, -t 0 -i "Once upon a time":
# 83.78 M instructions at n=64 and 468.72 M at n=256.
RUN_C_PER_TOKEN = (468.72e6 - 83.78e6) / (LONG - SHORT)


def llm_args(firmware, model, tokenizer, steps, extra):
    return [firmware, "-m", "llm", model, "-z", tokenizer, "-t", "0", "-n", str(steps), "-i", PROMPT] + extra


def callgrind(cmd, workdir):
    out = os.path.join(workdir, "callgrind.out")
    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                          check=True, capture_output=True, text=True).stdout
    total = int(re.search(r"^\s*([\d,]+)\s.*PROGRAM TOTALS", text, re.M).group(1).replace(",", ""))
    kernels = 0
    for name in KERNEL_ENTRIES:
        m = re.search(r"^\s*([\d,]+) .*:%s \[" % name, text, re.M)
        if m:
            kernels += int(m.group(1).replace(",", ""))
    return total, kernels


def tokens_per_second(cmd):
    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
    m = re.search(r"achieved tok/s: ([\d.]+)", r.stderr)
    return float(m.group(1)) if m else float("nan")


def measure(firmware, model, tokenizer, extra):
    with tempfile.TemporaryDirectory() as tmp:
        t_short, k_short = callgrind(llm_args(firmware, model, tokenizer, SHORT, extra), tmp)
        t_long, k_long = callgrind(llm_args(firmware, model, tokenizer, LONG, extra), tmp)
    per_token = (t_long - t_short) / (LONG - SHORT)
    outside = 1 - (k_long - k_short) / (t_long - t_short)
    tps = tokens_per_second(llm_args(firmware, model, tokenizer, LONG, extra))
    return per_token, outside, tps


SPEEDUP = """
import llm, _llm, time
m = llm.load(%(path)r)
def run(threads):
    _llm.threads(threads)
    t = time.ticks_us()
    for _ in m.tokens('Once upon a time', steps=%(steps)d, temperature=0):
        pass
    return time.ticks_diff(time.ticks_us(), t)
run(1)
one, two = run(1), run(2)
print(one / two)
"""


def two_core_speedup(firmware, path, steps=256):
    """Single-core over two-core wall time, measured in one process."""
    r = subprocess.run([firmware, "-X", "heapsize=16M", "-c", SPEEDUP % {"path": path, "steps": steps}], check=True,
                       capture_output=True, text=True)
    return float(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host bench", description="instructions per token under callgrind")
    ap.add_argument("--firmware", default="build/micropython")
    ap.add_argument("--models", default="models", help="folder with stories260K.bin and tok512.bin")
    args = ap.parse_args(argv)
    if not shutil.which("valgrind"):
        sys.exit("error: valgrind is not installed (apt-get install valgrind)")
    model = os.path.join(args.models, "stories260K.bin")
    tokenizer = os.path.join(args.models, "tok512.bin")
    for path in (args.firmware, model, tokenizer):
        if not os.path.exists(path):
            sys.exit("error: %s not found (make, make models)" % path)

    tmp = tempfile.mkdtemp()
    int8 = os.path.join(tmp, "stories260K_int8.llm")
    fp32 = os.path.join(tmp, "stories260K_f32.llm")
    for out, flags in ((int8, ["--int8"]), (fp32, [])):
        subprocess.run([sys.executable, "-m", "host.convert", model, tokenizer, out] + flags, check=True,
                       capture_output=True, cwd=REPO)
    configs = [("fp32 weights, fp32 KV", model, []), ("int8 weights, fp32 KV", int8, []),
               ("int8 weights, int8 KV", int8, ["-k", "int8"])]
    print("stories260K, -t 0 -i %r, marginal instructions per token = (I(n=%d) - I(n=%d)) / %d"
          % (PROMPT, LONG, SHORT, LONG - SHORT))
    print("%-28s %14s %10s %18s %10s" % ("configuration", "instr/token", "x run.c", "outside kernels", "tok/s"))
    print("%-28s %14s %10s %18s %10s" % ("llama2.c run.c (gcc -O3)", "%.3f M" % (RUN_C_PER_TOKEN / 1e6),
                                         "1.00", "-", "-"))
    for label, path, extra in configs:
        per_token, outside, tps = measure(args.firmware, path, tokenizer, extra)
        print("%-28s %14s %10.2f %17.1f%% %10.0f" % (label, "%.3f M" % (per_token / 1e6),
                                                    per_token / RUN_C_PER_TOKEN, 100 * outside, tps))
    print()
    print("two cores (pthreads split), single-core / two-core wall time in one run:")
    for label, path in (("stories260K fp32", fp32), ("stories260K int8", int8)):
        print("  %-26s %.2fx" % (label, two_core_speedup(args.firmware, path)))
    big = os.path.join(tmp, "shape15M_int8.llm")
    subprocess.run([sys.executable, "-c", SHAPE15M % {"out": big, "tok": os.path.join(args.models, "tok512.bin")}],
                   check=True, cwd=REPO)
    print("  %-26s %.2fx" % ("dim-288 vocab-512, int8", two_core_speedup(args.firmware, big, steps=64)))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
