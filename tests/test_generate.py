"""End to end: `micropython -m llm CHECKPOINT -z TOKENIZER ...` and the llm package's API.

The two golden llama2.c outputs must come out byte for byte; every other run is
compared with host.reference.generate, which reproduces llama2.c's run (with
sinf/cosf taken from the C library, see the libm_reference fixture): stdout must
equal the reference's bytes exactly.  Small random checkpoints cover shared and
unshared classifiers, grouped-query attention and odd hidden sizes.
"""

import os

import numpy as np
import pytest

import mpy
from host import llama2

M64 = (1 << 64) - 1


@pytest.fixture(scope="module")
def R(libm_reference):
    return libm_reference


@pytest.fixture(scope="module")
def stories(R, stories260k_path, tok512_path):
    """(checkpoint path, tokenizer path, reference Transformer, reference Tokenizer)."""
    tr = R.Transformer.from_file(stories260k_path)
    tok = R.Tokenizer.from_file(tok512_path, tr.vocab_size)
    return stories260k_path, tok512_path, tr, tok


def cli(ckpt, tok, *flags, **kw):
    args = ["-m", "llm", str(ckpt)]
    if tok is not None:
        args += ["-z", str(tok)]
    return mpy.run(args + [f if isinstance(f, bytes) else str(f) for f in flags], **kw)


def ref_cli(R, tr, tok, prompt=b"", steps=256, temperature=1.0, topp=0.9, seed=0):
    """What llama2.c's run prints for these flags (seed as run.c's unsigned long long)."""
    return R.generate(tr, tok, prompt, steps, temperature, topp, seed & M64)


def check_cli(R, model, flags, prompt=b"", steps=256, temperature=1.0, topp=0.9, seed=0):
    ckpt, tokpath, tr, tok = model
    p = cli(ckpt, tokpath, *flags)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    want = ref_cli(R, tr, tok, prompt, steps, temperature, topp, seed)
    assert p.stdout == want, "flags %r:\nfirmware:  %r\nreference: %r" % (flags, p.stdout, want)
    return p


# ---------------------------------------------------------------------------------------------
# golden llama2.c outputs

def test_golden_greedy(firmware, stories, golden_dir):
    ckpt, tok, _, _ = stories
    p = cli(ckpt, tok, "-t", "0")
    assert p.returncode == 0
    with open(os.path.join(golden_dir, "stories260K_t0.txt"), "rb") as f:
        assert p.stdout == f.read()
    assert b"achieved tok/s:" in p.stderr


def test_golden_topp(firmware, stories, golden_dir):
    ckpt, tok, _, _ = stories
    p = cli(ckpt, tok, "-t", "1.0", "-p", "0.9", "-s", "133742")
    assert p.returncode == 0
    with open(os.path.join(golden_dir, "stories260K_t1_p0.9_s133742.txt"), "rb") as f:
        assert p.stdout == f.read()
    assert b"achieved tok/s:" in p.stderr
    assert b"achieved tok/s:" not in p.stdout


# ---------------------------------------------------------------------------------------------
# other flags against the reference

STORIES_CASES = [
    # (flags, prompt, steps, temperature, top_p, seed)
    (["-t", "0", "-i", "Once upon a time", "-n", "64"], b"Once upon a time", 64, 0.0, 0.9, 0),
    (["-t", "0.8", "-p", "0.95", "-s", "42", "-n", "100", "-i", "The cat"], b"The cat", 100, 0.8, 0.95, 42),
    (["-t", "1.0", "-p", "1.0", "-s", "7"], b"", 256, 1.0, 1.0, 7),
    (["-t", "0.5", "-p", "0.5", "-s", "12345"], b"", 256, 0.5, 0.5, 12345),
    (["-t", "1.3", "-p", "0.0", "-s", "99", "-n", "80", "-i", "Lily"], b"Lily", 80, 1.3, 0.0, 99),
    # fewer steps than prompt tokens: only part of the prompt comes out
    (["-t", "0", "-n", "5", "-i", "Once upon a time there was a big dog who liked to run"],
     b"Once upon a time there was a big dog who liked to run", 5, 0.0, 0.9, 0),
    # -n 0 means seq_len (512); so does a value past it
    (["-t", "0", "-n", "0", "-i", "Tim"], b"Tim", 0, 0.0, 0.9, 0),
    (["-t", "0.9", "-s", "5", "-n", "100000"], b"", 100000, 0.9, 0.9, 5),
    # out-of-range values get llama2.c's defaults: t < 0 -> 0, p outside [0, 1] -> 0.9
    (["-t", "-1", "-n", "40", "-i", "A dog"], b"A dog", 40, -1.0, 0.9, 0),
    (["-t", "1", "-p", "1.5", "-s", "11", "-n", "60"], b"", 60, 1.0, 1.5, 11),
    # non-ASCII prompts (multi-byte pieces and byte fallback)
    (["-t", "0", "-n", "40", "-i", "Caf\u00e9 \u00fcber \u65e5\u672c \U0001F600"],
     "Caf\u00e9 \u00fcber \u65e5\u672c \U0001F600".encode(), 40, 0.0, 0.9, 0),
    (["-t", "0.9", "-s", "3", "-n", "30", "-i", b"caf\xc3\xa9 \xff\xfe\x80 x"],
     b"caf\xc3\xa9 \xff\xfe\x80 x", 30, 0.9, 0.9, 3),
    (["-t", "0", "-n", "30", "-i", "line one\nline two\ttab"], b"line one\nline two\ttab", 30, 0.0, 0.9, 0),
]


@pytest.mark.parametrize("case", STORIES_CASES, ids=lambda c: " ".join(
    f if isinstance(f, str) else repr(f) for f in c[0])[:60])
def test_cli_matches_reference(firmware, R, stories, case):
    flags, prompt, steps, t, p, seed = case
    out = check_cli(R, stories, flags, prompt, steps, t, p, seed)
    if prompt and prompt.isascii() and (steps == 0 or steps >= 40):
        # the prompt is echoed (llama2.c prints the forced prompt tokens too)
        assert out.stdout.startswith(prompt)


def test_cli_seed_changes_the_story(firmware, R, stories):
    ckpt, tok, tr, rtok = stories
    a = cli(ckpt, tok, "-t", "1", "-s", "1", "-n", "60").stdout
    b = cli(ckpt, tok, "-t", "1", "-s", "2", "-n", "60").stdout
    assert a != b
    assert a == ref_cli(R, tr, rtok, b"", 60, 1.0, 0.9, 1)


def test_cli_negative_seed_is_llama2c_unsigned(firmware, R, stories):
    check_cli(R, stories, ["-t", "1", "-s", "-5", "-n", "60"], b"", 60, 1.0, 0.9, -5)


def test_cli_ctx_bound(firmware, R, stories):
    ckpt, tok, tr, rtok = stories
    p = cli(ckpt, tok, "-t", "0", "-i", "Once upon a time", "-n", "64", "-c", "16")
    assert p.returncode == 0
    assert p.stdout == ref_cli(R, tr, rtok, b"Once upon a time", 16, 0.0)
    assert b"16" in p.stderr and b"context" in p.stderr


def test_cli_int8_kv(firmware, stories):
    ckpt, tok, _, _ = stories
    p = cli(ckpt, tok, "-t", "0", "-i", "Once upon a time", "-n", "64", "-k", "int8")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(b"Once upon a time") and len(p.stdout) > len(b"Once upon a time") + 40


# ---------------------------------------------------------------------------------------------
# random checkpoints with random tokenizers

RANDOM_MODELS = {
    # name: (dim, hidden, layers, heads, kv_heads, vocab, seq_len, shared)
    "gqa_shared": (48, 172, 2, 6, 2, 400, 64, True),
    "odd_hidden_unshared": (32, 37, 3, 4, 4, 300, 48, False),
    "head2_mqa_unshared": (16, 172, 1, 8, 1, 512, 100, False),
    "two_heads_shared": (64, 96, 2, 2, 1, 260, 32, True),
}


@pytest.fixture(scope="module")
def random_models(R, tmp_path_factory):
    out = {}
    base = tmp_path_factory.mktemp("random_models")
    for i, (name, (dim, hidden, layers, heads, kvh, vocab, seq, shared)) in enumerate(RANDOM_MODELS.items()):
        ckpt, tokp = base / (name + ".bin"), base / (name + "_tok.bin")
        config = dict(dim=dim, hidden_dim=hidden, n_layers=layers, n_heads=heads, n_kv_heads=kvh,
                      vocab_size=vocab, seq_len=seq)
        cfg, weights = llama2.random_weights(config, shared=shared, seed=10 + i)
        if shared:
            # With a unit-normal embedding as classifier, a token's own logit dominates and the
            # model only repeats itself; a smaller embedding lets the layers steer the text.
            weights["token_embedding_table"] = (0.1 * weights["token_embedding_table"]).astype(np.float32)
            weights["wcls"] = weights["token_embedding_table"]
        llama2.write_checkpoint(ckpt, cfg, weights, shared=shared)
        pieces, scores = llama2.random_tokenizer(vocab, seed=i)
        llama2.write_tokenizer(tokp, pieces, scores)
        out[name] = (ckpt, tokp, R.Transformer(*llama2.read_checkpoint(ckpt)), R.Tokenizer(pieces, scores))
    return out


RANDOM_RUNS = [
    (["-t", "0", "-i", "Once upon a time", "-n", "0"], b"Once upon a time", 0, 0.0, 0.9, 0),
    (["-t", "1.0", "-p", "0.9", "-s", "42"], b"", 256, 1.0, 0.9, 42),
    (["-t", "0.7", "-p", "1.0", "-s", "3", "-i", "the caf\u00e9 \u65e5\u672c"],
     "the caf\u00e9 \u65e5\u672c".encode(), 256, 0.7, 1.0, 3),
    (["-t", "1.5", "-p", "0.5", "-s", "2024", "-n", "20", "-i", "The"], b"The", 20, 1.5, 0.5, 2024),
]


@pytest.mark.parametrize("name", sorted(RANDOM_MODELS))
def test_random_checkpoint_cli(firmware, R, random_models, name):
    outs = []
    for flags, prompt, steps, t, p, seed in RANDOM_RUNS:
        outs.append(check_cli(R, random_models[name], flags, prompt, steps, t, p, seed).stdout)
    # the runs differ from each other, and are not one repeated token
    assert len(set(outs)) == len(outs)
    _, _, tr, tok = random_models[name]
    greedy = [t for t, _ in R.generate_tokens(tr, tok, b"Once upon a time", 0, 0.0, 0.9, 0)]
    assert len(greedy) > 20 and len(set(greedy)) > 8


def test_random_checkpoint_logits(firmware, R, random_models):
    # forward() logits, bit for bit, over a few positions of every random model
    for name, (ckpt, tokp, tr, tok) in sorted(random_models.items()):
        tokens = [t % tr.vocab_size for t in (1, 300, 259, 260, 5, 270, 7, 1000)]
        res = mpy.snippet(r'''
import llm
m = llm.load(%r, %r)
for pos, t in enumerate(%r):
    emit("l%%d" %% pos, m.forward(t, pos))
''' % (str(ckpt), str(tokp), tokens))
        for pos, t in enumerate(tokens):
            mpy.assert_bits_equal(mpy.f32(res["l%d" % pos]), tr.forward(t, pos), "%s pos %d" % (name, pos))


# ---------------------------------------------------------------------------------------------
# bad command lines

BAD_FLAGS = [
    ["-x", "1"],
    ["-t"],
    ["-n"],
    ["-t", "abc"],
    ["-p", "0.5.5"],
    ["-s", "seven"],
    ["-n", "1e3"],
    ["-c", "x"],
    ["-k", "int4"],
    ["-m", "chat"],
    ["-tt", "1"],
    ["t", "1"],
]


@pytest.mark.parametrize("flags", BAD_FLAGS, ids=lambda f: " ".join(f))
def test_bad_flags(firmware, stories, flags):
    ckpt, tok, _, _ = stories
    p = cli(ckpt, tok, *flags)
    assert p.returncode == 1
    assert b"Usage:" in p.stderr
    assert p.stdout == b""


def test_no_checkpoint(firmware):
    for args in (["-m", "llm"], ["-m", "llm", "-h"], ["-m", "llm", "--help"]):
        p = mpy.run(args)
        assert p.returncode == 1
        assert b"Usage:" in p.stderr and p.stdout == b""


def test_missing_files(firmware, stories, tmp_path):
    ckpt, tok, _, _ = stories
    missing = str(tmp_path / "no_such_model.bin")
    for args, name in (([missing, "-z", tok], missing), ([ckpt, "-z", missing], missing),
                       ([ckpt], "tokenizer.bin")):
        p = mpy.run(["-m", "llm"] + args, cwd=str(tmp_path))
        assert p.returncode == 1
        assert b"error" in p.stderr and name.encode() in p.stderr, p.stderr
        assert p.stdout == b"" and b"Traceback" not in p.stderr


def test_bad_files_on_the_command_line(firmware, stories, tmp_path):
    ckpt, tok, _, _ = stories
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x01\x02\x03")
    for args in ([str(junk), "-z", tok], [ckpt, "-z", str(junk)], [ckpt, "-z", tok, "-c", "0"],
                 [ckpt, "-z", tok, "-c", "513"]):
        p = mpy.run(["-m", "llm"] + args)
        assert p.returncode == 1
        assert p.stderr.startswith(b"error:") and b"Traceback" not in p.stderr, p.stderr
        assert p.stdout == b""


# ---------------------------------------------------------------------------------------------
# the Python API

def ref_pieces(R, tr, tok, prompt, steps, temperature, topp, seed):
    """Raw decoded pieces (no safe_printf filtering), as Model.pieces yields them."""
    if isinstance(prompt, str):
        prompt = prompt.encode()
    prev = tok.encode(prompt)[0]
    out = []
    for nxt, _ in R.generate_tokens(tr, tok, prompt, steps, temperature, topp, seed):
        out.append(tok.decode(prev, nxt))
        prev = nxt
    return out


API = r'''
import sys
import llm
m = llm.load(%(ckpt)r, %(tok)r)
emit("greedy", m.generate("Once upon a time", steps=64, temperature=0))
emit("stream", list(m.stream("Once upon a time", steps=64, temperature=0)))
emit("pieces", list(m.pieces("Once upon a time", steps=64, temperature=0)))
emit("stop", m.stop_reason)
emit("sampled", m.generate("The cat", steps=100, temperature=0.8, top_p=0.9, seed=42))
emit("sampled_again", m.generate("The cat", steps=100, temperature=0.8, top_p=0.9, seed=42))
emit("default_steps", m.generate("", temperature=1.0, top_p=0.9, seed=133742))
emit("bytes_prompt", m.generate(b"Lily", steps=30, temperature=0))
emit("info", [m.config, m.ctx, m.kv, m.vocab_size])
'''


def test_api_generate_stream_pieces(firmware, R, stories):
    ckpt, tokp, tr, tok = stories
    res = mpy.snippet(API % {"ckpt": ckpt, "tok": tokp})
    want = ref_pieces(R, tr, tok, "Once upon a time", 64, 0.0, 0.9, 0)
    assert res["pieces"] == want
    text = b"".join(want).decode()
    assert res["greedy"] == text and text.startswith("Once upon a time")
    assert "".join(res["stream"]) == res["greedy"] and len(res["stream"]) > 10
    assert res["stop"] == "steps"
    sampled = b"".join(ref_pieces(R, tr, tok, "The cat", 100, 0.8, 0.9, 42)).decode()
    assert res["sampled"] == res["sampled_again"] == sampled
    assert res["default_steps"] == b"".join(ref_pieces(R, tr, tok, "", 256, 1.0, 0.9, 133742)).decode()
    assert res["bytes_prompt"] == b"".join(ref_pieces(R, tr, tok, b"Lily", 30, 0.0, 0.9, 0)).decode()
    c = tr.config
    assert res["info"] == [[c[k] for k in llama2.CONFIG_NAMES], c["seq_len"], "f32", c["vocab_size"]]


def test_api_ctx_bound(firmware, R, stories):
    ckpt, tokp, tr, tok = stories
    res = mpy.snippet(r'''
import llm
m = llm.load(%r, %r, ctx=16)
emit("text", m.generate("Once upon a time", steps=64, temperature=0))
emit("stop", m.stop_reason)
emit("ctx", m.ctx)
''' % (ckpt, tokp))
    assert res["text"] == b"".join(ref_pieces(R, tr, tok, "Once upon a time", 16, 0.0, 0.9, 0)).decode()
    assert res["stop"] == "ctx" and res["ctx"] == 16
    assert "context" not in res.err  # the library says so through stop_reason; the CLI and repl print it


def test_api_kv_int8(firmware, stories):
    ckpt, tokp, _, _ = stories
    res = mpy.snippet(r'''
import llm
m = llm.load(%r, %r, kv="int8")
emit("text", m.generate("Once upon a time", steps=64, temperature=0))
emit("stop", m.stop_reason)
emit("kv", [m.kv, m.info()["kv_bytes"], llm.load(%r, %r).info()["kv_bytes"]])
emit("bad", catch(llm.load, %r, %r, kv="int4"))
import _llm
cfg = (64, 172, 5, 8, 4, 512, 512)
emit("types", [_llm.memory(cfg, 16, 0)[1], _llm.memory(cfg, 16, 1)[1]])
emit("bad_types", [catch(_llm.memory, cfg, 16, t) for t in (-1, 2, 3)])
''' % (ckpt, tokp, ckpt, tokp, ckpt, tokp))
    text = res["text"]
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time") + 40
    assert res["stop"] == "steps"
    kv, q8_bytes, f32_bytes = res["kv"]
    assert kv == "int8" and q8_bytes < f32_bytes
    assert res["bad"][0] == "ValueError"
    # The C module takes the cache's tensor type (fileformat.KV_TYPES), nothing else.
    f32_bytes, q8_bytes = res["types"]
    assert q8_bytes < f32_bytes
    assert [b[0] for b in res["bad_types"]] == ["ValueError"] * 3
    assert "KV cache type" in res["bad_types"][0][1]


def test_api_random_model_sampled(firmware, R, random_models):
    # The raw pieces (byte fallback included) of a random model, sampled, equal the reference.
    ckpt, tokp, tr, tok = random_models["gqa_shared"]
    res = mpy.snippet(r'''
import llm
m = llm.load(%r, %r)
emit("pieces", list(m.pieces("the caf\u00e9", steps=0, temperature=1.0, top_p=0.95, seed=77)))
''' % (str(ckpt), str(tokp)))
    want = ref_pieces(R, tr, tok, "the caf\u00e9", 0, 1.0, 0.95, 77)
    assert res["pieces"] == want
    assert any(len(p) == 1 and p[0] >= 0x80 for p in want)  # raw bytes from byte fallback


def test_api_invalid_utf8_keeps_valid_characters(firmware, stories):
    ckpt, tokp, _, _ = stories
    res = mpy.snippet(r'''
import llm
m = llm.load(%r, %r)
n = len(m.tokenizer.encode(b"\xe6\x97\xc3\xa9x"))
emit("text", m.generate(b"\xe6\x97\xc3\xa9x", steps=n - 1, temperature=0))
''' % (ckpt, tokp))
    text = res["text"]
    assert "\ufffd" in text
    assert text.replace("\ufffd", "") == "\u00e9x"


def test_repl(firmware, R, stories):
    ckpt, tokp, tr, tok = stories
    code = r'''
import llm
m = llm.load(%r, %r)
llm.repl(m, steps=40, temperature=0)
print("after repl")
''' % (ckpt, tokp)
    p = mpy.run(code, input="Once upon a time\nThe cat\n\n")
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    for prompt in ("Once upon a time", "The cat"):
        story = b"".join(ref_pieces(R, tr, tok, prompt, 40, 0.0, 0.9, 0)).decode()
        assert story.startswith(prompt) and story + "\n" in out
    assert out.rstrip().endswith("after repl")
    # end of input without an empty line also leaves the loop
    p = mpy.run(code, input="Once upon a time\n")
    assert p.returncode == 0 and b"after repl" in p.stdout
    story = b"".join(ref_pieces(R, tr, tok, "Once upon a time", 40, 0.0, 0.9, 0)).decode()
    assert story.encode() in p.stdout
