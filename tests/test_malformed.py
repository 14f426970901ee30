"""Malformed models must give a clean Python exception with a useful message,
never a crash: llama2.c checkpoints through llm.load, and _llm.Model given a
bad tensor table directly.

Each snippet tries many bad inputs in one firmware process, catching and
reporting (type, message) for each, then shows the interpreter still works.
"""

import json
import os
import struct

import numpy as np
import pytest

import mpy
from host import llama2
from host import reference as R

# dim, hidden, layers, heads, kv_heads, vocab, seq_len
BASE = (48, 172, 2, 6, 2, 300, 32)
CONFIG_NAMES = llama2.CONFIG_NAMES


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A valid unshared random checkpoint and its tokenizer: (dir, checkpoint bytes, tokenizer path)."""
    d = tmp_path_factory.mktemp("malformed")
    ckpt = d / "base.bin"
    dim, hidden, layers, heads, kvh, vocab, seq = BASE
    llama2.random_checkpoint(ckpt, dim, hidden, layers, heads, kvh, vocab, seq, shared=False, seed=4)
    pieces, scores = llama2.random_tokenizer(vocab, seed=4)
    tok = d / "tok.bin"
    llama2.write_tokenizer(tok, pieces, scores)
    return d, ckpt.read_bytes(), tok


def header(dim=48, hidden=172, layers=2, heads=6, kvh=2, vocab=-300, seq=32):
    return struct.pack("<7i", dim, hidden, layers, heads, kvh, vocab, seq)


LOAD = r'''
import json
import llm
out = []
for name, path, tok, kwargs in json.loads(load("cases")):
    out.append([name] + catch(llm.load, path, tok, **kwargs))
emit("out", out)
m = llm.load(*json.loads(load("good")))
emit("after", m.generate("Once upon a time", steps=10, temperature=0))
print("alive")
'''


def run_load_cases(d, cases, good, heapsize=None):
    """cases: (name, blob or path, tokenizer path, kwargs, expected type, words that must be in the message)."""
    lst = []
    for name, blob, tok, kwargs, _, _ in cases:
        if isinstance(blob, (bytes, bytearray)):
            path = d / ("%s.bin" % name)
            path.write_bytes(blob)
        else:
            path = blob
        lst.append([name, str(path), None if tok is None else str(tok), kwargs])
    res = mpy.snippet(LOAD, data={"cases": json.dumps(lst).encode(), "good": json.dumps(good).encode()},
                      heapsize=heapsize)
    assert res.out.strip().endswith("alive")
    problems = []
    for (name, _, _, _, kind, words), (rname, rkind, msg) in zip(cases, res["out"]):
        assert name == rname
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if rkind not in kinds:
            problems.append("%s: got %s %r, want %s" % (name, rkind, msg, kind))
            continue
        for w in words:
            alts = w if isinstance(w, tuple) else (w,)
            if not any(a in msg for a in alts):
                problems.append("%s: message %r lacks %r" % (name, msg, w))
    assert not problems, "\n".join(problems)
    return res


def test_truncated_and_oversized_checkpoints(firmware, base):
    d, good, tok = base
    size = len(good)
    cases = []
    for cut in (0, 1, 4, 27):
        cases.append(("cut%d" % cut, good[:cut], tok, {}, "ValueError", (("too short", "truncated"), "header")))
    for cut in (28, 29, 28 + 4 * 300 * 48 - 1, size // 2, size - 4, size - 1):
        cases.append(("cut%d" % cut, good[:cut], tok, {}, "ValueError", ("truncated", str(cut), str(size))))
    for extra in (1, 4, 4096):
        cases.append(("extra%d" % extra, good + b"\0" * extra, tok, {}, "ValueError",
                      (str(size + extra), str(size))))
    # a big config in a small file is "truncated", not an attempt to use it
    cases.append(("big_header_small_file", header(4096, 11008, 32, 32, 32, 32000, 2048) + good[28:], tok, {},
                  "ValueError", ("truncated",)))
    (d / "good.bin").write_bytes(good)
    res = run_load_cases(d, cases, [str(d / "good.bin"), str(tok)])
    assert res["after"].startswith("Once")


def test_many_layers_in_a_small_file_is_truncated_before_any_table(firmware, base):
    """A header claiming 2**24 layers: the size is worked out from the config
    first, so the message is "truncated" with both sizes, on a small heap and
    without building a 2**24-layer tensor table."""
    d, good, tok = base
    cases = []
    for layers in (1 << 24, 1 << 20, 3000):
        blob = header(layers=layers) + good[28:]
        cases.append(("layers=%d" % layers, blob, tok, {}, "ValueError",
                      ("truncated", "header says", "file has %d" % len(blob))))
    (d / "good.bin").write_bytes(good)
    run_load_cases(d, cases, [str(d / "good.bin"), str(tok)], heapsize="600k")


def test_absurd_header_fields(firmware, base):
    d, good, tok = base
    body = good[28:]
    cases = []
    fields = dict(zip(("dim", "hidden", "layers", "heads", "kvh", "vocab", "seq"),
                      (48, 172, 2, 6, 2, -300, 32)))
    keys = list(fields)
    for i, name in enumerate(CONFIG_NAMES):
        values = [2 ** 30, 2 ** 31 - 1, 0, -5, -2 ** 31] if name != "vocab_size" else [2 ** 30, -2 ** 30, 0, -2 ** 31]
        for v in values:
            kw = dict(fields)
            kw[keys[i]] = v
            cases.append(("%s=%d" % (name, v), header(**kw) + body, tok, {}, "ValueError", (name,)))
    # structural mismatches
    cases += [
        ("heads_not_dividing_dim", header(heads=5) + body, tok, {}, "ValueError", ("n_heads",)),
        ("heads_7", header(heads=7, kvh=7) + body, tok, {}, "ValueError", ("n_heads",)),
        ("kv_not_dividing_heads", header(kvh=4) + body, tok, {}, "ValueError", ("n_kv_heads",)),
        ("kv_more_than_heads", header(heads=2, kvh=4) + body, tok, {}, "ValueError", ("n_kv_heads",)),
        ("odd_head_size", header(heads=16, kvh=2) + body, tok, {}, "ValueError", ("head size",)),
        ("head_size_1", header(heads=48, kvh=2) + body, tok, {}, "ValueError", ("head size",)),
    ]
    (d / "good.bin").write_bytes(good)
    run_load_cases(d, cases, [str(d / "good.bin"), str(tok)])


def test_tokenizer_and_argument_problems(firmware, base):
    d, good, tok = base
    (d / "good.bin").write_bytes(good)
    ckpt = d / "good.bin"
    pieces, scores = llama2.random_tokenizer(300, seed=4)
    short = d / "short_tok.bin"
    llama2.write_tokenizer(short, pieces[:200], scores[:200])  # fewer tokens than the model's vocab
    cut = d / "cut_tok.bin"
    cut.write_bytes(tok.read_bytes()[:-3])
    empty = d / "empty_tok.bin"
    empty.write_bytes(b"")
    neg = bytearray(tok.read_bytes())
    struct.pack_into("<i", neg, 4 + 4, -7)
    missing = str(d / "no_such_tok.bin")
    cases = [
        ("tok_shorter_than_vocab", ckpt, short, {}, "ValueError", ("tokenizer", ("truncated", "fit"), "300")),
        ("tok_cut", ckpt, cut, {}, "ValueError", ("tokenizer", "truncated", "299")),
        ("tok_empty", ckpt, empty, {}, "ValueError", (("empty", "tokenizer"),)),
        ("tok_negative_length", ckpt, d / "neg_tok.bin", {}, "ValueError", ("tokenizer", "length", "0")),
        ("tok_missing", ckpt, missing, {}, "OSError", ("no_such_tok.bin",)),
        ("ckpt_missing", d / "no_such.bin", tok, {}, "OSError", ("no_such.bin",)),
        ("no_tokenizer", ckpt, None, {}, "ValueError", ("tokenizer",)),
        ("ctx_0", ckpt, tok, {"ctx": 0}, "ValueError", ("ctx",)),
        ("ctx_negative", ckpt, tok, {"ctx": -3}, "ValueError", ("ctx",)),
        ("ctx_past_seq_len", ckpt, tok, {"ctx": 33}, "ValueError", ("ctx", "32")),
        ("kv_bad", ckpt, tok, {"kv": "int4"}, "ValueError", ("kv",)),
    ]
    (d / "neg_tok.bin").write_bytes(bytes(neg))
    run_load_cases(d, cases, [str(ckpt), str(tok)])


def test_valid_model_too_big_for_the_heap(firmware, stories260k_path, tok512_path):
    # stories260K needs ~0.7 MB of heap for its KV cache: with a small heap, a MemoryError that
    # says how much is needed and what to try, and the interpreter goes on.
    res = mpy.snippet(r'''
import llm
emit("r", catch(llm.load, %r, %r))
emit("small_ctx", catch(llm.load, %r, %r, ctx=16))
print("alive")
''' % (stories260k_path, tok512_path, stories260k_path, tok512_path), heapsize="200k")
    kind, msg = res["r"]
    assert kind == "MemoryError"
    assert "heap" in msg and "try" in msg and "stories260K.bin" in msg and "ctx" in msg
    assert res["small_ctx"] == ["ok", None]  # the advice works


def sparse_checkpoint(path, cfg, weights, seq_len):
    """Write a version-0 unshared checkpoint whose (unused) freq_cis tables are a hole in the file."""
    full = dict(cfg, seq_len=seq_len, shared_classifier=False)
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", cfg["dim"], cfg["hidden_dim"], cfg["n_layers"], cfg["n_heads"],
                            cfg["n_kv_heads"], -cfg["vocab_size"], seq_len))
        for name, shape in llama2.weight_shapes(full, shared=False):
            n = 4 * int(np.prod(shape))
            if name.startswith("freq_cis"):
                f.seek(n, 1)
            else:
                f.write(np.ascontiguousarray(weights[name], "<f4").tobytes())
    assert os.path.getsize(path) == llama2.checkpoint_size(full, shared=False)


def huge_case(tmp_path, seq_len):
    # dim 64 with one head: the freq_cis tables take seq_len * 64 * 4 bytes, so a seq_len of
    # 2**24 puts the classifier 4 GiB into the file.
    vocab = 300
    cfg, weights = llama2.random_weights(dict(dim=64, hidden_dim=96, n_layers=1, n_heads=1, n_kv_heads=1,
                                              vocab_size=vocab, seq_len=16), shared=False, seed=6)
    path = tmp_path / "huge.bin"
    sparse_checkpoint(path, cfg, weights, seq_len)
    pieces, scores = llama2.random_tokenizer(vocab, seed=6)
    tok = tmp_path / "tok.bin"
    llama2.write_tokenizer(tok, pieces, scores)
    want = R.Transformer(cfg, weights).forward(5, 0)  # position 0 does not depend on seq_len
    res = mpy.snippet(r'''
import llm
r = catch(llm.load, %r, %r, ctx=4)
emit("r", r)
if r[0] == "ok":
    emit("logits", llm.load(%r, %r, ctx=4).forward(5, 0))
''' % (str(path), str(tok), str(path), str(tok)))
    return res, want


def test_checkpoint_between_2_and_4_gib(firmware, tmp_path):
    # The classifier sits past 2**31: refused with a ValueError, or used correctly.
    res, want = huge_case(tmp_path, 2 ** 23)
    kind, msg = res["r"]
    if kind == "ok":
        mpy.assert_bits_equal(mpy.f32(res["logits"]), want, "logits")
    else:
        assert kind in ("ValueError", "MemoryError"), msg


def test_checkpoint_over_4_gib(firmware, tmp_path):
    # The classifier sits at 4 GiB + 77 kB: refused, or used correctly -- never read elsewhere.
    res, want = huge_case(tmp_path, 2 ** 24)
    kind, msg = res["r"]
    if kind == "ok":
        mpy.assert_bits_equal(mpy.f32(res["logits"]), want, "logits")
    else:
        assert kind in ("ValueError", "MemoryError"), msg


# ---------------------------------------------------------------------------------------------
# _llm.Model with a bad tensor table

TENSORS = ("rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3")


def table_for(cfg, shared=False):
    """(offset, F32, 0, 0) entries for the version-0 layout, computed here from host.llama2's shapes."""
    full = dict(cfg, shared_classifier=shared)
    starts, off = {}, 28
    for name, shape in llama2.weight_shapes(full, shared=shared):
        starts[name] = (off, shape)
        off += 4 * int(np.prod(shape))
    L = cfg["n_layers"]
    file_names = {"rms_att": "rms_att_weight", "rms_ffn": "rms_ffn_weight"}
    entries = [starts["token_embedding_table"][0], 0, 0, 0]
    for layer in range(L):
        for t in TENSORS:
            o, shape = starts[file_names.get(t, t)]
            entries += [o + layer * 4 * int(np.prod(shape[1:])), 0, 0, 0]
    entries += [starts["rms_final_weight"][0], 0, 0, 0]
    entries += [starts["token_embedding_table"][0] if shared else starts["wcls"][0], 0, 0, 0]
    return entries


def entry(layer, tensor):
    """Index of a tensor's 4-int entry in the table."""
    if layer is None:
        return {"embedding": 0, "rms_final": 1 + 9 * BASE[2], "classifier": 2 + 9 * BASE[2]}[tensor]
    return 1 + 9 * layer + TENSORS.index(tensor)


MODEL_CASES = r'''
import json
import _llm
from array import array
cfg = json.loads(load("cfg"))
weights = load("weights")
good = array("i", load("table"))
config = tuple(cfg["config"])
out = []
for name, patch, extra in cfg["cases"]:
    t = array("i", good)
    for i, v in patch:
        t[i] = v
    args = [weights, t, config, cfg["config"][6], False]
    if extra == "short":
        args[1] = array("i", list(good)[:-4])
    elif extra == "long":
        args[1] = array("i", list(good) + [0, 0, 0, 0])
    elif extra == "empty":
        args[1] = array("i")
    elif extra == "odd_bytes":
        args[1] = bytes(good) + b"\0\0"
    elif extra == "misaligned":
        args[1] = memoryview(bytearray(b"\0") + bytes(good))[1:]
    elif extra == "list":
        args[1] = list(good)
    elif extra == "weights_none":
        args[0] = None
    elif extra == "weights_short":
        args[0] = weights[:-4]
    elif extra.startswith("ctx="):
        args[3] = int(extra[4:])
    elif extra.startswith("config="):
        args[2] = tuple(json.loads(extra[7:]))
    elif extra == "config_str":
        args[2] = ("48",) + config[1:]
    elif extra == "config_short":
        args[2] = config[:6]
    elif extra == "four_args":
        args = args[:4]
    out.append([name] + catch(_llm.Model, *args))
emit("out", out)
m = _llm.Model(weights, good, config, 8, 0)
m.forward(1, 0)
emit("logits", m.logits())
emit("forward_bad", [catch(m.forward, cfg["config"][5], 0), catch(m.forward, -1, 0), catch(m.forward, 1, 8),
                     catch(m.forward, 1, -1), catch(m.forward, 1, 2 ** 40)])
mq = _llm.Model(weights + load("q8"), array("i", load("qtable")), config, 8, 1)
mq.forward(1, 0)
emit("q8_logits", mq.logits())
print("alive")
'''


def test_model_bad_tables(firmware, base):
    d, good, tok = base
    dim, hidden, layers, heads, kvh, vocab, seq = BASE
    cfg = dict(zip(CONFIG_NAMES, BASE))
    table = table_for(cfg)
    size = len(good)

    def at(layer, tensor, field=0):
        return 4 * entry(layer, tensor) + field

    emb_bytes = vocab * dim * 4
    cases = [
        # (name, [(index, value)], extra, expected type, words)
        ("embedding_past_end", [(at(None, "embedding"), size)], "", "ValueError", ("embedding", "past the end")),
        ("embedding_4_past_end", [(at(None, "embedding"), size - emb_bytes + 4)], "", "ValueError",
         ("embedding", "past the end")),
        ("offset_int32_max", [(at(0, "wq"), 2 ** 31 - 4)], "", "ValueError", ("wq", "layer 0", "past the end")),
        ("negative_offset", [(at(0, "rms_att"), -4)], "", "ValueError", ("rms_att", "layer 0", "offset")),
        ("negative_offset_min", [(at(1, "w2"), -2 ** 31)], "", "ValueError", ("w2", "layer 1", "offset")),
        ("misaligned_1", [(at(0, "wq"), table[at(0, "wq")] + 1)], "", "ValueError", ("wq", "aligned")),
        ("misaligned_2", [(at(1, "wk"), table[at(1, "wk")] + 2)], "", "ValueError", ("wk", "layer 1", "aligned")),
        ("misaligned_norm", [(at(None, "rms_final"), table[at(None, "rms_final")] + 3)], "", "ValueError",
         ("rms_final", "aligned")),
        ("type_3", [(at(0, "wo", 1), 3)], "", "ValueError", ("wo", "type")),  # 2 is int4
        ("type_negative", [(at(None, "classifier", 1), -1)], "", "ValueError", ("classifier", "type")),
        ("type_huge", [(at(1, "w3", 1), 2 ** 31 - 1)], "", "ValueError", ("w3", "type")),
        ("norm_as_q8", [(at(0, "rms_ffn", 1), 1), (at(0, "rms_ffn", 2), dim)], "", "ValueError",
         ("rms_ffn", "type")),
        ("q8_group_not_dividing", [(at(0, "wv", 1), 1), (at(0, "wv", 2), 5)], "", "ValueError",
         ("wv", "group size")),
        ("q8_group_0", [(at(0, "w1", 1), 1), (at(0, "w1", 2), 0)], "", "ValueError", ("w1", "group size")),
        ("q8_group_negative", [(at(0, "w1", 1), 1), (at(0, "w1", 2), -48)], "", "ValueError", ("w1", "group size")),
        ("q8_group_bigger_than_row", [(at(0, "w2", 1), 1), (at(0, "w2", 2), 344)], "", "ValueError",
         ("w2", "group size")),
        ("q8_scales_negative", [(at(0, "wq", 1), 1), (at(0, "wq", 2), 16), (at(0, "wq", 3), -2)], "",
         "ValueError", ("wq", "scales")),
        ("q8_scales_misaligned", [(at(0, "wq", 1), 1), (at(0, "wq", 2), 16), (at(0, "wq", 3), 29)], "",
         "ValueError", ("wq", "aligned")),
        ("q8_scales_past_end", [(at(0, "wq", 1), 1), (at(0, "wq", 2), 16), (at(0, "wq", 3), size - 2)], "",
         "ValueError", ("wq", "past the end")),
        ("q8_data_past_end", [(at(None, "embedding", 1), 1), (at(None, "embedding", 2), 48),
                              (at(None, "embedding"), size - vocab * dim + 1), (at(None, "embedding", 3), 28)],
         "", "ValueError", ("embedding", "past the end")),
        ("table_short", [], "short", "ValueError", ("table",)),
        ("table_long", [], "long", "ValueError", ("table",)),
        ("table_empty", [], "empty", "ValueError", ("table",)),
        ("table_misaligned", [], "misaligned", "ValueError", ("table", "aligned")),
        ("table_list", [], "list", "TypeError", ()),
        ("weights_none", [], "weights_none", "TypeError", ()),
        ("weights_short", [], "weights_short", "ValueError", ("classifier", "past the end")),
        ("ctx_0", [], "ctx=0", "ValueError", ("ctx",)),
        ("ctx_negative", [], "ctx=-1", "ValueError", ("ctx",)),
        ("ctx_past_seq_len", [], "ctx=%d" % (seq + 1), "ValueError", ("ctx",)),
        ("ctx_huge", [], "ctx=%d" % 2 ** 40, "ValueError", ("ctx",)),
        ("config_short", [], "config_short", "ValueError", ("config",)),
        ("config_str", [], "config_str", "TypeError", ()),
        ("config_dim_0", [], "config=" + json.dumps([0] + list(BASE[1:])), "ValueError", ("dim",)),
        ("config_heads_not_dividing", [], "config=" + json.dumps([48, 172, 2, 5, 1, 300, 32]), "ValueError",
         ("n_heads",)),
        ("config_kv_not_dividing", [], "config=" + json.dumps([48, 172, 2, 6, 4, 300, 32]), "ValueError",
         ("n_kv_heads",)),
        ("config_odd_head", [], "config=" + json.dumps([48, 172, 2, 16, 2, 300, 32]), "ValueError",
         ("head size",)),
        ("config_too_large", [], "config=" + json.dumps([2 ** 25, 172, 2, 8, 2, 300, 32]), "ValueError",
         ("dim",)),
        ("config_product_too_large", [], "config=" + json.dumps([2 ** 16, 2 ** 16, 1, 256, 256, 300, 32]),
         "ValueError", ("too large",)),
        ("config_kv_product_too_large", [], "config=" + json.dumps([2 ** 12, 8, 2 ** 10, 16, 16, 300, 2 ** 10]),
         "ValueError", ("too large",)),
        ("config_negative_vocab", [], "config=" + json.dumps([48, 172, 2, 6, 2, -300, 32]), "ValueError",
         ("vocab_size",)),
        ("four_args", [], "four_args", "TypeError", ()),
    ]
    # a valid int8 version of layer 0's wq appended to the weights: codes, then half scales
    rng = np.random.default_rng(1)
    codes = rng.integers(-127, 128, dim * dim).astype(np.int8)
    scales = (np.abs(rng.standard_normal(dim * dim // 16)) * 0.01).astype(np.float16)
    q_off = size + (-size) % 16
    q8 = b"\0" * (q_off - size) + codes.tobytes()
    s_off = size + len(q8)
    q8 += scales.tobytes()
    qtable = list(table)
    qtable[at(0, "wq"):at(0, "wq") + 4] = [q_off, 1, 16, s_off]
    data = {
        "weights": good, "table": struct.pack("<%di" % len(table), *table), "q8": q8,
        "qtable": struct.pack("<%di" % len(qtable), *qtable),
        "cfg": json.dumps({"config": list(BASE), "cases": [[c[0], c[1], c[2]] for c in cases]}).encode(),
    }
    res = mpy.snippet(MODEL_CASES, data=data)
    assert res.out.strip().endswith("alive")
    problems = []
    for (name, _, _, kind, words), (rname, rkind, msg) in zip(cases, res["out"]):
        assert name == rname
        if rkind != kind or not all(w in msg for w in words):
            problems.append("%s: %s %r, want %s with %s" % (name, rkind, msg, kind, words))
    assert not problems, "\n".join(problems)
    # the untouched table is the right one: logits as the reference computes them
    tr = R.Transformer(*llama2.parse_checkpoint(good))
    mpy.assert_bits_equal(mpy.f32(res["logits"]), tr.forward(1, 0), "good table")
    assert [r[0] for r in res["forward_bad"]] == ["ValueError"] * 5
    q8_logits = mpy.f32(res["q8_logits"])
    assert np.all(np.isfinite(q8_logits)) and not np.array_equal(q8_logits, mpy.f32(res["logits"]))


def test_model_table_with_trailing_bytes(firmware, base):
    d, good, tok = base
    cfg = dict(zip(CONFIG_NAMES, BASE))
    table = table_for(cfg)
    res = mpy.snippet(r'''
import _llm
emit("r", catch(_llm.Model, load("w"), load("t") + b"\0\0", %r, 8, False))
''' % (tuple(BASE),), data={"w": good, "t": struct.pack("<%di" % len(table), *table)})
    assert res["r"][0] == "ValueError" and "table" in res["r"][1]
