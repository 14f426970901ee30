"""Deterministic fuzzing of the file readers: mutated llama2.c checkpoints (.bin), .llm
files and tokenizer files, each loaded and, when it loads, run for a few tokens.

Every case is made from (seed, case number) alone, so a failure names what reproduces it:

    LLM_FUZZ_SEED=<seed> LLM_FUZZ_ONLY=<case> python3 -m pytest tests/test_fuzz.py

A bad file may raise ValueError, OSError or MemoryError; a signal, a sanitizer report, a hang,
or any other exception fails the test.  LLM_FUZZ_CASES sets the number of cases (default
2000; `make fuzz N=...` runs a longer campaign on the sanitizer build), LLM_FUZZ_SEED the
seed (default 10).
"""
import json
import os
import struct
import subprocess

import numpy as np
import pytest

from host.fileformat import HEADER_FORMAT, HEADER_SIZE
from host import convert, llama2, modelfile

SEED = int(os.environ.get("LLM_FUZZ_SEED", "10"))
CASES = int(os.environ.get("LLM_FUZZ_CASES", "2000"))
ONLY = os.environ.get("LLM_FUZZ_ONLY")
BATCH = 250            # cases per firmware process
BATCH_TIMEOUT = 240    # seconds; far above a batch's normal run time, so only a hang reaches it
HEAP = "24M"
ALLOWED = ("ValueError", "OSError", "MemoryError")

INTERESTING = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 255, 256, 511, 512, 4096, 0x7FFF, 0xFFFF, 0x10000,
               0x7FFFFFFF, -1, -2, -16, -0x80000000, 0x3FFFFFFF, 0x40000000, 0x1000000, 0x1000001]
NONFINITE = [float("nan"), float("inf"), float("-inf"), 1e-45, -1e-45, 3.4e38]

RUNNER = r'''
import sys, gc, json
import llm
cases = json.loads(open(sys.argv[1]).read())
for c in cases:
    print("\x1eC", c[0])
    try:
        gc.collect()
        m = llm.load(c[1], c[2], kv=c[3])
        m.generate(c[4], steps=c[5], temperature=c[6], top_p=0.9, seed=c[0])
        r = "ok"
    except Exception as e:
        r = type(e).__name__ + ": " + str(e)[:200]
    m = None
    print("\x1eR", c[0], r)
print("\x1eDONE")
'''


# ---- base files ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bases(tmp_path_factory, stories260k_path, tok512_path):
    """name -> (model path or None, tokenizer path or None, file kind) of valid inputs."""
    d = tmp_path_factory.mktemp("fuzzbase")
    small_bin, small_tok = str(d / "small.bin"), str(d / "small_tok.bin")
    llama2.random_checkpoint(small_bin, 32, 64, 2, 4, 2, 280, 24, seed=SEED)
    pieces, scores = llama2.random_tokenizer(280, seed=SEED)
    llama2.write_tokenizer(small_tok, pieces, scores)
    out = {}
    for name, ckpt, tok in (("s260", stories260k_path, tok512_path), ("small", small_bin, small_tok)):
        for dtype in ("f32", "int8"):
            path = str(d / ("%s_%s.llm" % (name, dtype)))
            convert.convert(ckpt, tok, path, dtype)
            out["%s_%s_llm" % (name, dtype)] = (path, None, "llm")
        out[name + "_bin"] = (ckpt, tok, "bin")
        out[name + "_tok"] = (ckpt, tok, "tok")
    return out


def regions(data, kind):
    """(start, end) byte ranges where structure lives, to aim mutations at."""
    if kind == "tok":
        return [(0, min(len(data), 4096))]
    if kind == "bin":
        return [(0, 28), (28, min(len(data), 4096))]
    h = modelfile.read_header(bytes(data))
    n = 3 + 9 * h["config"]["n_layers"]
    vocab = h["config"]["vocab_size"]
    return [(0, HEADER_SIZE), (h["table_offset"], h["table_offset"] + 16 * n),
            (h["tokenizer_offset"], h["tokenizer_offset"] + min(h["tokenizer_size"], 4096)),
            (h["index_offset"], h["index_offset"] + 8 * vocab)]


def mutate(data, kind, rng):
    """Mutate data (a bytearray) in place; returns a short description of what was done."""
    done = []
    areas = regions(data, kind)
    for _ in range(int(rng.integers(1, 5))):
        op = int(rng.integers(0, 8))
        if rng.random() < 0.7:
            lo, hi = areas[int(rng.integers(0, len(areas)))]
        else:
            lo, hi = 0, len(data)
        hi = max(min(hi, len(data)) - 4, lo + 1)
        at = int(rng.integers(lo, hi)) if hi > lo else 0
        if op in (0, 1) and len(data) >= 4:
            at -= at % 4 if op == 0 else 0
            v = INTERESTING[int(rng.integers(0, len(INTERESTING)))]
            if rng.random() < 0.3:
                v = struct.unpack_from("<i", data, min(at, len(data) - 4))[0] + int(rng.integers(-3, 4))
            at = min(at, len(data) - 4)
            struct.pack_into("<I", data, at, v & 0xFFFFFFFF)
            done.append("int32 %d at %d" % (v, at))
        elif op == 2:
            n = int(rng.integers(1, 9))
            for _ in range(n):
                p = int(rng.integers(0, len(data)))
                data[p] ^= 1 << int(rng.integers(0, 8))
            done.append("%d bit flips" % n)
        elif op == 3 and len(data) > 8:
            cut = int(rng.integers(1, len(data)))
            del data[cut:]
            done.append("truncated to %d" % cut)
        elif op == 4:
            n = int(rng.integers(1, 64))
            data += bytes(rng.integers(0, 256, n, dtype=np.uint8))
            done.append("%d bytes appended" % n)
        elif op == 5 and len(data) >= 4:
            v = NONFINITE[int(rng.integers(0, len(NONFINITE)))]
            at = min(at - at % 4, len(data) - 4)
            struct.pack_into("<f", data, at, v)
            done.append("float %r at %d" % (v, at))
        elif op == 6 and len(data) >= 2:
            at = min(at, len(data) - 2)
            struct.pack_into("<H", data, at, [0x7E00, 0x7C00, 0xFC00, 0x0001, 0x7BFF][int(rng.integers(0, 5))])
            done.append("half at %d" % at)
        else:
            n = int(rng.integers(1, 32))
            at = min(at, max(len(data) - n, 0))
            data[at:at + n] = bytes(rng.integers(0, 256, min(n, len(data) - at), dtype=np.uint8))
            done.append("%d random bytes at %d" % (n, at))
    if kind == "llm" and len(data) >= HEADER_SIZE and rng.random() < 0.6:
        # Keep the header's file size right, so that the checks past it are reached.
        struct.pack_into("<I", data, struct.calcsize(HEADER_FORMAT) - 4, len(data))
        done.append("size fixed")
    return ", ".join(done)


def make_case(i, bases, names, d):
    """Case i: (runner entry, description).  Depends on (SEED, i) only."""
    rng = np.random.default_rng([SEED, i])
    name = names[int(rng.integers(0, len(names)))]
    model, tok, kind = bases[name]
    target = tok if kind == "tok" else model
    data = bytearray(open(target, "rb").read())
    what = mutate(data, kind, rng)
    path = os.path.join(d, "case%d%s" % (i, os.path.splitext(target)[1]))
    with open(path, "wb") as f:
        f.write(data)
    if kind == "tok":
        model_path, tok_path = model, path
    else:
        model_path, tok_path = path, tok
    kv = "int8" if rng.random() < 0.5 else "f32"
    prompt = ["", "Once upon a time", "caf\u00e9 \U0001F600 <0x0A>", "a" * int(rng.integers(1, 40))][
        int(rng.integers(0, 4))]
    temp = [0.0, 1.0, 0.7][int(rng.integers(0, 3))]
    steps = int(rng.integers(1, 12))
    return [i, model_path, tok_path, kv, prompt, steps, temp], "%s: %s" % (name, what)


def parse(out):
    started, results, done = [], {}, False
    for line in out.decode("utf-8", "replace").split("\n"):
        if line.startswith("\x1eC "):
            started.append(int(line[3:]))
        elif line.startswith("\x1eR "):
            num, _, r = line[3:].partition(" ")
            results[int(num)] = r
        elif line == "\x1eDONE":
            done = True
    return started, results, done


def test_fuzz_file_readers(firmware, bases, tmp_path):
    names = sorted(bases)
    ids = [int(ONLY)] if ONLY else list(range(CASES))
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0:detect_stack_use_after_return=0")
    failures, outcomes = [], {}

    def repro(i, desc):
        return "case %d (%s); reproduce: LLM_FUZZ_SEED=%d LLM_FUZZ_ONLY=%d python3 -m pytest %s" % (
            i, desc, SEED, i, os.path.relpath(__file__, os.getcwd()))

    for b in range(0, len(ids), BATCH):
        batch_dir = tmp_path / ("b%d" % b)
        batch_dir.mkdir()
        cases, descs = [], {}
        for i in ids[b:b + BATCH]:
            c, descs[i] = make_case(i, bases, names, str(batch_dir))
            cases.append(c)
        manifest = batch_dir / "cases.json"
        manifest.write_text(json.dumps(cases))
        cmd = [firmware, "-X", "heapsize=" + HEAP, str(runner), str(manifest)]
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=BATCH_TIMEOUT, env=env)
            out, err, rc, hung = p.stdout, p.stderr, p.returncode, False
        except subprocess.TimeoutExpired as e:
            out, err, rc, hung = e.stdout or b"", e.stderr or b"", None, True
        started, results, done = parse(out)
        outcomes.update(results)
        text = err.decode("utf-8", "replace")
        if hung or rc != 0 or not done or "Sanitizer" in text or "runtime error" in text:
            last = started[-1] if started else ids[b]
            why = "hang (over %d s)" % BATCH_TIMEOUT if hung else "exit status %s" % rc
            failures.append("%s in %s\n%s" % (why, repro(last, descs.get(last, "?")), text[-4000:]))
        for i, r in results.items():
            if r != "ok" and not r.startswith(ALLOWED):
                failures.append("unexpected %s in %s" % (r, repro(i, descs[i])))
        for p in batch_dir.iterdir():
            p.unlink()
    assert not failures, "\n\n".join(failures[:5])
    # The fuzzer must reach generation, not only the first checks.
    loaded = sum(1 for r in outcomes.values() if r == "ok")
    assert len(outcomes) == len(ids)
    if not ONLY:
        assert loaded >= len(ids) // 10, "only %d of %d mutated files loaded" % (loaded, len(ids))
