"""Models of the size of stories15M, 42M and 110M run on the host firmware with its defaults.

llama2.c's `run` runs these models; the host firmware must too, without `-X heapsize`:
the fp32 KV cache of stories110M alone is 75 MB.  The checkpoints are random, of the real
shapes (dim, hidden, layers, heads, vocab 32000, seq_len), with the real 32000-piece
tokenizer, and every output is compared with host.reference (llama2.c's arithmetic).
"""

import os
import subprocess
import time

import numpy as np
import pytest

import mpy
from mpy import cli
from devicetools import firmware_on_pty, read_until, type_line, wait_cooked
from host import llama2
from repo import REPO

M64 = (1 << 64) - 1

# name: (dim, hidden_dim, n_layers, n_heads, n_kv_heads, seq_len), as published for tinyllamas.
SHAPES = {
    "stories15M": (288, 768, 6, 6, 6, 256),
    "stories42M": (512, 1376, 8, 8, 8, 1024),
    "stories110M": (768, 2048, 12, 12, 12, 1024),
}


@pytest.fixture(scope="module")
def R(libm_reference):
    return libm_reference


def make_checkpoint(path, shape, seed):
    dim, hidden, layers, heads, kv_heads, seq_len = shape
    config = dict(dim=dim, hidden_dim=hidden, n_layers=layers, n_heads=heads, n_kv_heads=kv_heads,
                  vocab_size=32000, seq_len=seq_len)
    cfg, weights = llama2.random_weights(config, shared=True, seed=seed)
    # A smaller embedding keeps the shared classifier from only repeating the input token.
    weights["token_embedding_table"] = (0.1 * weights["token_embedding_table"]).astype(np.float32)
    weights["wcls"] = weights["token_embedding_table"]
    llama2.write_checkpoint(path, cfg, weights, shared=True)


@pytest.fixture(scope="module", params=sorted(SHAPES))
def model(request, tmp_path_factory, R, tok32k_path):
    """(checkpoint path, reference Transformer, reference Tokenizer, name); removed afterwards."""
    name = request.param
    path = tmp_path_factory.mktemp(name) / (name + ".bin")
    make_checkpoint(path, SHAPES[name], seed=7 + sorted(SHAPES).index(name))
    tr = R.Transformer.from_file(str(path))
    tok = R.Tokenizer.from_file(tok32k_path, tr.vocab_size)
    yield str(path), tr, tok, name
    os.remove(path)  # hundreds of MB each




def test_fp32_default_flags_match_llama2c(R, model, tok32k_path):
    path, tr, tok, name = model
    # llama2.c's defaults (-t 1.0 -p 0.9 -n 256) with a fixed seed; fewer steps for the big ones,
    # whose KV cache is allocated for all of seq_len whatever the step count.
    steps = 256 if name == "stories15M" else 24
    flags = ["-s", "4242", "-i", "Once upon a time"] + ([] if steps == 256 else ["-n", steps])
    p = cli(path, "-z", tok32k_path, *flags)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    tr.key_cache[:] = 0
    tr.value_cache[:] = 0
    want = R.generate(tr, tok, b"Once upon a time", steps, 1.0, 0.9, 4242 & M64)
    assert p.stdout == want
    assert b"achieved tok/s" in p.stderr


def test_int8_default_flags_and_api(R, model, tok32k_path, tmp_path):
    path, tr, tok, name = model
    out = tmp_path / (name + "_int8.llm")
    r = subprocess.run(["python3", "-m", "host", "convert", path, tok32k_path, str(out), "--int8"],
                       cwd=REPO,
                       capture_output=True)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    p = cli(out, "-t", "0", "-n", "12", "-i", "Once upon a time")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    # The package's API, with its defaults, generates the same text as the command line.
    code = ("import llm\nm = llm.load(%r)\n"
            "for b in m.pieces('Once upon a time', steps=12, temperature=0): print(b.hex())"
            % str(out))
    q = mpy.run(["-c", code])
    assert q.returncode == 0, q.stderr.decode(errors="replace")
    pieces = [bytes.fromhex(h) for h in q.stdout.decode().split()]
    # The command line prints each piece as llama2.c's safe_printf does, then a newline.
    assert b"".join(R.safe_piece(b) for b in pieces) + b"\n" == p.stdout
    assert p.stdout.startswith(b"Once upon a time") and len(pieces) == 12  # one piece per position, as llama2.c prints


def test_fp32_api_default_load(model, tok32k_path):
    path, tr, tok, name = model
    code = ("import llm\nm = llm.load(%r, %r)\nprint(m.info()['kv_bytes'])\n"
            "print(m.generate('Once', steps=4, temperature=0))" % (path, tok32k_path))
    p = mpy.run(["-c", code])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    dim, hidden, layers, heads, kv_heads, seq_len = SHAPES[name]
    kv_bytes = int(p.stdout.split(b"\n")[0])
    assert kv_bytes == 2 * layers * seq_len * (dim * kv_heads // heads) * 4


def test_heapsize_flag_still_bounds_the_model(model, tok32k_path):
    # The larger default heap must not weaken an explicit budget.
    path, tr, tok, name = model
    p = mpy.run(["-m", "llm", path, "-z", tok32k_path, "-n", "4"], heapsize="2M")
    assert p.returncode != 0
    assert b"needs about" in p.stderr and b"bytes of heap" in p.stderr


def test_repl_recovers_from_ctrl_c_on_15m(firmware, tmp_path, tok32k_path):
    path = tmp_path / "r15m.bin"
    make_checkpoint(path, SHAPES["stories15M"], seed=99)
    code = ("import llm\nm = llm.load(%r, %r)\nllm.repl(m, steps=256)\nprint('REPL-DONE')\n"
            % (str(path), tok32k_path))
    with firmware_on_pty(firmware, code) as fd:  # as a user runs it
        read_until(fd, b"> ", 30)
        type_line(fd, b"Once upon a time")
        wait_cooked(fd)  # the story has begun: Ctrl-C is now SIGINT, not a byte for input()
        time.sleep(0.3)  # mid-story: 256 steps of a 15M model take longer than this
        os.write(fd, b"\x03")  # Ctrl-C, which the terminal turns into SIGINT
        after = read_until(fd, b"\n> ", 30)
        assert b"[stopped]" in after  # interrupted mid-story, not finished before the Ctrl-C
        # Back at the prompt: the same model generates again, to the end of a short story.
        type_line(fd, b"Tom")
        again = read_until(fd, b"\n> ", 60)
        assert b"Tom" in again
        type_line(fd, b"")
        done = read_until(fd, b"REPL-DONE", 30)
        # The random 32000-token model can emit the word "Traceback" itself; match the header.
        assert b"Traceback (most recent call last)" not in after + again + done
