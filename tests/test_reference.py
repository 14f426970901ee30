"""Tests for host/llama2.py (file formats) and host/reference.py (numpy mirror of llama2.c run.c)."""

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from host import llama2
from host import reference as R

from repo import REPO as REPO_ROOT
M64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def tok512(models_dir):
    return R.Tokenizer.from_file(os.path.join(models_dir, "tok512.bin"), 512)


@pytest.fixture(scope="module")
def tok32k(models_dir):
    return R.Tokenizer.from_file(os.path.join(models_dir, "tokenizer.bin"), 32000)


@pytest.fixture(scope="module")
def stories_path(models_dir):
    return os.path.join(models_dir, "stories260K.bin")


@pytest.fixture(scope="module")
def rand_tok():
    return R.Tokenizer(*llama2.random_tokenizer(400, seed=1))


def detok(tok, ids):
    """What run.c would print for a token sequence starting with BOS (before safe_printf)."""
    return b"".join(tok.decode(prev, t) for prev, t in zip(ids, ids[1:]))


def raw_pieces(tok, ids):
    """Concatenation of the decoded pieces without the after-BOS space stripping."""
    return b"".join(tok.decode(0, t) for t in ids if t != tok.BOS)


TEXTS = [
    b"Once upon a time, there was a little girl named Lily.",
    b"Hello world",
    b"a  b   c\n\nd\t!",
    "caf\u00e9 \u65e5\u672c \U0001F600 na\u00efve \u00fcber \u20ac5".encode(),
    b"bytes \x01\x7f\xff\xfe end",
    b" leading space",
    b"x",
]


# ---------------------------------------------------------------------------------------------
# tokenizer

@pytest.mark.parametrize("name", ["tok512", "tok32k", "rand_tok"])
@pytest.mark.parametrize("text", TEXTS)
def test_roundtrip(request, name, text):
    tok = request.getfixturevalue(name)
    ids = tok.encode(text)
    assert ids[0] == 1 and 1 not in ids[1:] and 2 not in ids
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert raw_pieces(tok, ids) == b" " + text  # dummy prefix space
    # the space of the first piece (merged or a lone " ") is dropped after BOS
    assert detok(tok, ids) == text


def test_known_llama2_ids(tok32k):
    # token ids of the Llama 2 sentencepiece tokenizer (also llama2.c's own tokenizer tests)
    assert tok32k.encode(b"I believe the meaning of life is") == [1, 306, 4658, 278, 6593, 310, 2834, 338]
    assert tok32k.encode(b"Hello world") == [1, 15043, 3186]
    assert tok32k.encode(b"Simply put, the theory of relativity states that") == [
        1, 3439, 17632, 1925, 29892, 278, 6368, 310, 14215, 537, 5922, 393]
    assert tok32k.encode(b"Hello world", bos=False, eos=True) == [15043, 3186, 2]


def test_encode_basics(tok512, tok32k):
    for tok in (tok512, tok32k):
        assert tok.encode(b"") == [1]  # no dummy prefix for empty text
        assert tok.encode(b"", bos=False) == []
        assert tok.encode(b"", bos=True, eos=True) == [1, 2]
        assert tok.encode(b"x\x00yz") == tok.encode(b"x")  # C string: stops at NUL
        assert tok.encode("x") == tok.encode(b"x")
        # newline is not a piece in either vocab: byte fallback <0x0A> = id 13
        assert tok.lookup(b"\n") == -1
        assert tok.encode(b"\n") == [1, tok.lookup(b" "), 13]
    assert tok512.encode(b"Once upon a time") == [1, 403, 407, 261, 378]
    assert [tok512.pieces[i] for i in tok512.encode(b"Once upon a time")[1:]] == [
        b" Once", b" upon", b" a", b" time"]


def test_byte_fallback(tok512, tok32k):
    emoji = "\U0001F600".encode()
    assert tok512.lookup(emoji) == -1
    sp = tok512.lookup(b" ")
    assert tok512.encode(emoji) == [1, sp] + [b + 3 for b in emoji]
    # invalid UTF-8: lone continuation / lead bytes fall back byte by byte
    assert tok512.encode(b"\xff\x80", bos=False) == [sp, 0xFF + 3, 0x80 + 3]
    # a multi-byte character that IS in the vocab is one token
    e_acute = "\u00e9".encode()
    assert tok32k.lookup(e_acute) == 29948
    assert tok512.lookup(e_acute) == 485
    assert tok512.encode(b"\xc3\xa9", bos=False) == [sp, 485]
    for tok in (tok512, tok32k):
        for b in (0x00, 0x0A, 0x41, 0x80, 0xFF):
            assert tok.pieces[b + 3] == b"<0x%02X>" % b
            assert tok.decode(0, b + 3) == bytes([b])
            assert tok.decode(1, b + 3) == bytes([b])


def test_codepoint_grouping_max_4_bytes():
    # llama2.c groups a lead byte with at most 3 continuation bytes; a stray continuation byte
    # after a valid character joins the group, so the character is not found and falls back.
    pieces, scores = llama2.random_tokenizer(400)
    tok = R.Tokenizer(pieces, scores)
    nichi = "\u65e5".encode()  # e6 97 a5
    sp = tok.lookup(b" ")
    assert tok.lookup(nichi) > 258
    assert tok.encode(nichi, bos=False) == [sp, tok.lookup(nichi)]
    assert tok.encode(nichi + b"\xa5", bos=False) == [sp] + [b + 3 for b in nichi + b"\xa5"]
    # 5 continuation bytes after a lead: groups of (lead + 3) then (2 stray bytes, each alone)
    assert tok.encode(b"\xf0\x80\x80\x80\x80\x80", bos=False) == [sp] + [b + 3 for b in b"\xf0\x80\x80\x80\x80\x80"]


def test_merge_order_and_ties():
    base, bscores = llama2.random_tokenizer(260)  # specials + bytes + " " only
    extra = [b"a", b"b", b"c", b"z", b"ab", b"bc", b"abc", b"cc", b"zz"]
    idx = {p: i for i, p in enumerate(base + extra)}
    sp = idx[b" "]

    def tok(**sc):
        s = dict(a=-100.0, b=-100.0, c=-100.0, z=-100.0, ab=-5.0, bc=-5.0, abc=-2e10, cc=-1.0, zz=-2e10)
        s.update(sc)
        return R.Tokenizer(base + extra, bscores + [s[p.decode()] for p in extra])

    # "ab" and "bc" tie: the leftmost pair wins; "abc" is below the -1e10 floor, never merged
    assert tok().encode(b"abc", bos=False) == [sp, idx[b"ab"], idx[b"c"]]
    assert tok(bc=-4.0).encode(b"abc", bos=False) == [sp, idx[b"a"], idx[b"bc"]]
    assert tok(abc=-6.0).encode(b"abc", bos=False) == [sp, idx[b"abc"]]
    assert tok(ab=-1e10, bc=-1e10).encode(b"abc", bos=False) == [sp, idx[b"a"], idx[b"b"], idx[b"c"]]
    assert tok().encode(b"zz", bos=False) == [sp, idx[b"z"], idx[b"z"]]
    # "cc" (-1) beats "ab"/"bc" (-5): a b c c -> a b cc -> ab cc
    assert tok().encode(b"abcc", bos=False) == [sp, idx[b"ab"], idx[b"cc"]]


def test_merge_uses_best_score_globally(tok32k):
    # "  " (two spaces) has score -1e9 in the Llama vocab: it still merges (> -1e10), but
    # only after everything else, so " a  b" keeps " b" rather than "  " + "b".
    assert tok32k.scores[259] == -1e9 and tok32k.pieces[259] == b"  "
    assert tok32k.encode(b"a  b") == [1, 263, 29871, 289]
    assert tok32k.encode(b"   ") == [1, 268] and tok32k.pieces[268] == b"    "


def test_decode_and_safe_piece(tok512):
    once = tok512.lookup(b" Once")
    assert tok512.decode(1, once) == b"Once"  # leading space dropped after BOS
    assert tok512.decode(5, once) == b" Once"
    assert tok512.decode(1, tok512.lookup(b" ")) == b""
    assert tok512.decode(1, 0x20 + 3) == b" "  # <0x20> does not start with a space
    assert R.safe_piece(b"") == b""
    assert R.safe_piece(b"\x00") == b""
    assert R.safe_piece(b"\x01") == b""
    assert R.safe_piece(b"\x7f") == b""
    assert R.safe_piece(b"\x80") == b""  # a lone UTF-8 byte from byte fallback is NOT printed
    for c in b"\t\n\x0b\x0c\r A~":
        assert R.safe_piece(bytes([c])) == bytes([c])
    assert R.safe_piece(b"\xc3\xa9") == b"\xc3\xa9"
    assert R.safe_piece(b"ab\x00cd") == b"ab"


def test_sscanf_byte_piece_quirk():
    # run.c decodes with sscanf(piece, "<0x%02hhX>"): a 1-digit or lowercase hex also counts
    pieces, scores = llama2.random_tokenizer(260)
    tok = R.Tokenizer(pieces + [b"<0xA>", b"<0xab>", b"<0xZZ>"], scores + [0.0, 0.0, 0.0])
    assert tok.decode(0, 260) == b"\x0a"
    assert tok.decode(0, 261) == b"\xab"
    assert tok.decode(0, 262) == b"<0xZZ>"


# ---------------------------------------------------------------------------------------------
# tokenizer files

def test_tokenizer_file_roundtrip(tmp_path):
    pieces, scores = llama2.random_tokenizer(600, seed=3)
    assert len(pieces) == 600 and len(set(pieces)) == 600
    assert pieces[:3] == [b"<unk>", b"\n<s>\n", b"\n</s>\n"] and pieces[259] == b" "
    assert b"\xc3\xa9" in pieces and b" the" in pieces
    p = tmp_path / "tok.bin"
    mtl = llama2.write_tokenizer(p, pieces, scores)
    assert mtl == max(len(x) for x in pieces)
    assert llama2.read_tokenizer(p, 600) == (mtl, pieces, scores)
    assert llama2.read_tokenizer(p) == (mtl, pieces, scores)
    data = p.read_bytes()
    with pytest.raises(ValueError, match="truncated"):
        llama2.parse_tokenizer(data[:-1], 600)
    with pytest.raises(ValueError, match="truncated"):
        llama2.parse_tokenizer(data, 601)
    with pytest.raises(ValueError, match="trailing"):
        llama2.parse_tokenizer(data, 599)
    with pytest.raises(ValueError, match="truncated"):
        llama2.parse_tokenizer(data[:3])
    bad = bytearray(data)
    struct.pack_into("<i", bad, 4 + 4, -1)  # length of token 0
    with pytest.raises(ValueError, match="negative"):
        llama2.parse_tokenizer(bad, 600)
    struct.pack_into("<i", bad, 4 + 4, 10 ** 6)
    with pytest.raises(ValueError, match="max_token_length"):
        llama2.parse_tokenizer(bad, 600)
    with pytest.raises(ValueError):
        llama2.parse_tokenizer(struct.pack("<i", 0) + data[4:], 600)
    with pytest.raises(ValueError):
        llama2.random_tokenizer(100)


def test_real_tokenizer_files(models_dir):
    mtl, pieces, scores = llama2.read_tokenizer(os.path.join(models_dir, "tok512.bin"), 512)
    assert mtl == 7 and len(pieces) == 512 and pieces[410] == b" "
    mtl, pieces, scores = llama2.read_tokenizer(os.path.join(models_dir, "tokenizer.bin"), 32000)
    assert mtl == 27 and len(pieces) == 32000 and pieces[29871] == b" "
    assert pieces[3] == b"<0x00>" and pieces[258] == b"<0xFF>" and scores[260] == -1.0


# ---------------------------------------------------------------------------------------------
# RNG and sampler

def test_rng_hand_derived():
    mult = 0x2545F4914F6CDD1D
    # state = 1: 1 ^ (1 >> 12) = 1; 1 ^ (1 << 25) = 0x2000001; 0x2000001 >> 27 = 0
    assert R.random_u32(1) == (((0x2000001 * mult) % 2 ** 64) >> 32, 0x2000001)
    assert R.random_u32(1)[0] == 1206177355
    # state = 2**64 - 1: the << 25 must wrap at 64 bits
    s = 2 ** 64 - 1
    s ^= s >> 12              # 0xFFF0000000000000
    assert s == 0xFFF0000000000000
    s ^= (s << 25) % 2 ** 64  # low 64 bits of the shift are zero -> unchanged
    assert s == 0xFFF0000000000000
    s ^= s >> 27
    assert s == 0xFFF0000000000000 ^ (0xFFF << 25)
    assert R.random_u32(2 ** 64 - 1) == (((s * mult) % 2 ** 64) >> 32, s)
    # state 0 is a fixed point (run.c's main never uses seed 0)
    assert R.random_u32(0) == (0, 0)


def test_rng_sequence_matches_uint64_wraparound():
    st = np.array([133742], dtype=np.uint64)
    py = 133742
    for _ in range(1000):
        st ^= st >> np.uint64(12)
        st ^= st << np.uint64(25)
        st ^= st >> np.uint64(27)
        want = int((st * np.uint64(0x2545F4914F6CDD1D))[0]) >> 32
        u, py = R.random_u32(py)
        assert (u, py) == (want, int(st[0]))
    c, s2 = R.random_f32(133742)
    assert isinstance(c, np.float32)
    assert c == np.float32((3033531262 >> 8) / 16777216.0)
    assert R.random_u32(133742) == (3033531262, s2)


def test_sample_functions():
    p = np.array([0.1, 0.4, 0.4, 0.1], np.float32)
    assert R.sample_argmax(p) == 1  # first maximum
    assert R.sample_mult(p, 0.0) == 0
    assert R.sample_mult(p, 0.1) == 1  # coin < cdf is strict
    assert R.sample_mult(p, 0.99) == 3
    assert R.sample_mult(np.array([0.2, 0.2], np.float32), 0.9) == 1  # fallback n-1
    # top-p: sorted by prob descending, ties keep index order: [1, 2, 0, 3]
    # topp 0.5: cumulative 0.4, 0.8 > 0.5 -> keep [1, 2], r = coin * 0.8
    assert R.sample_topp(p, 0.5, np.float32(0.0)) == 1
    assert R.sample_topp(p, 0.5, np.float32(0.49)) == 1  # r = 0.392 < 0.4
    assert R.sample_topp(p, 0.5, np.float32(0.51)) == 2  # r = 0.408
    assert R.sample_topp(p, 0.5, np.float32(0.9999)) == 2
    # cutoff (1 - topp) / (n - 1) drops tiny probabilities before sorting
    q = np.array([0.001, 0.5, 0.499], np.float32)
    assert R.sample_topp(q, 0.99, np.float32(0.9999)) == 2
    s = R.Sampler(4, 0.0, 0.9, 7)
    assert s.sample(np.array([1, 3, 3, 2], np.float32)) == 1 and s.rng_state == 7  # no RNG draw


def test_softmax_and_expf():
    x = np.array([1.0, 2.0, 3.0, -1e30], np.float32)
    y = R.softmax(x)
    assert y.dtype == np.float32 and y[3] == 0
    np.testing.assert_allclose(y[:3], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-6)
    if not R.HAVE_LIBM:
        pytest.skip("no C libm via ctypes")
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.standard_normal(20000) * 30, [0.0, -0.0, 88.7, 88.73, -103.0, -104.0, -150.0]])
    v = v.astype(np.float32)
    want = np.array([R._LIBM.expf(float(t)) for t in v], np.float32)
    got = R.expf(v)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_matmul_rmsnorm_sequential_order():
    rng = np.random.default_rng(5)
    w = (rng.standard_normal((7, 33)) * 3).astype(np.float32)
    x = (rng.standard_normal(33) * 3).astype(np.float32)
    want = []
    for i in range(7):
        acc = np.float32(0)
        for j in range(33):
            acc = np.float32(acc + np.float32(w[i, j] * x[j]))
        want.append(acc)
    assert np.array_equal(R.matmul(w, x), np.array(want, np.float32))
    ss = np.float32(0)
    for j in range(33):
        ss = np.float32(ss + x[j] * x[j])
    ss = np.float32(1) / np.sqrt(np.float32(ss / np.float32(33) + np.float32(1e-5)))
    g = w[0]
    assert np.array_equal(R.rmsnorm(x, g), g * (ss * x))


# ---------------------------------------------------------------------------------------------
# checkpoint files

def test_stories260k_header(stories_path):
    cfg, w = llama2.read_checkpoint(stories_path)
    assert {k: cfg[k] for k in llama2.CONFIG_NAMES} == dict(
        dim=64, hidden_dim=172, n_layers=5, n_heads=8, n_kv_heads=4, vocab_size=512, seq_len=512)
    assert cfg["shared_classifier"] and cfg["head_size"] == 8 and cfg["kv_dim"] == 32
    assert w["wcls"] is w["token_embedding_table"]
    assert w["wk"].shape == (5, 32, 64) and w["w2"].shape == (5, 64, 172)
    assert os.path.getsize(stories_path) == llama2.checkpoint_size(cfg)


@pytest.mark.parametrize("shared", [True, False])
def test_random_checkpoint_roundtrip(tmp_path, shared):
    p = tmp_path / "m.bin"
    cfg, w = llama2.random_checkpoint(p, 16, 40, 2, 4, 2, 300, 32, shared=shared, seed=1)
    cfg2, w2 = llama2.read_checkpoint(p)
    assert cfg2 == cfg and cfg2["shared_classifier"] == shared
    assert struct.unpack_from("<7i", p.read_bytes())[5] == (300 if shared else -300)
    assert p.stat().st_size == llama2.checkpoint_size(cfg)
    for k in llama2.WEIGHT_NAMES + ("wcls",):
        assert w2[k].dtype == np.float32 and np.array_equal(w2[k], w[k]), k
    assert (w2["wcls"] is w2["token_embedding_table"]) == shared
    # write what we read -> identical bytes
    q = tmp_path / "m2.bin"
    llama2.write_checkpoint(q, cfg2, w2, shared=shared)
    assert q.read_bytes() == p.read_bytes()


def _header(dim=16, hidden=40, layers=2, heads=4, kv=2, vocab=300, seq=32):
    return struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq)


@pytest.mark.parametrize("hdr, msg", [
    (_header(layers=-1), "n_layers"),
    (_header(dim=0), "dim"),
    (_header(vocab=0), "vocab_size"),
    (_header(dim=18, heads=4), "multiple of n_heads"),
    (_header(heads=4, kv=3), "n_kv_heads"),
    (_header(heads=4, kv=8), "n_kv_heads"),
    (_header(dim=12, heads=4), "even"),
    (_header(dim=2 ** 30, heads=1, kv=1), "truncated"),
    (_header(seq=2 ** 31 - 1), "truncated"),
    (_header(vocab=-(2 ** 31)), "int32"),
])
def test_bad_headers(tmp_path, hdr, msg):
    p = tmp_path / "bad.bin"
    p.write_bytes(hdr + bytes(4096))
    with pytest.raises(ValueError, match=msg):
        llama2.read_checkpoint(p)


def test_truncated_and_oversized(tmp_path):
    p = tmp_path / "m.bin"
    llama2.random_checkpoint(p, 16, 40, 2, 4, 2, 300, 32, shared=False)
    data = p.read_bytes()
    for n in (0, 3, 27, 28, 100, len(data) // 2, len(data) - 4, len(data) - 1):
        with pytest.raises(ValueError, match="truncated"):
            llama2.parse_checkpoint(data[:n])
    with pytest.raises(ValueError, match="size mismatch"):
        llama2.parse_checkpoint(data + bytes(4))
    bad = bytearray(data)
    struct.pack_into("<f", bad, 28 + 4 * 5, float("nan"))
    with pytest.raises(ValueError, match="non-finite"):
        llama2.parse_checkpoint(bad)


def test_write_checkpoint_validation(tmp_path):
    cfg, w = llama2.random_weights(dict(dim=16, hidden_dim=40, n_layers=2, n_heads=4, n_kv_heads=2,
                                        vocab_size=300, seq_len=32), shared=False)
    with pytest.raises(ValueError, match="differs"):
        llama2.write_checkpoint(tmp_path / "a.bin", cfg, w, shared=True)
    w2 = dict(w)
    w2["wq"] = w["wq"][:, :8]
    with pytest.raises(ValueError, match="shape"):
        llama2.write_checkpoint(tmp_path / "b.bin", cfg, w2, shared=False)
    w3 = dict(w)
    del w3["wcls"]
    with pytest.raises(ValueError, match="wcls"):
        llama2.write_checkpoint(tmp_path / "c.bin", cfg, w3, shared=False)


# ---------------------------------------------------------------------------------------------
# forward pass vs an independent float64 implementation

def _forward64(cfg, w, tokens):
    """Plain float64 llama2 forward over a whole sequence; returns logits for every position."""
    d, H, KV = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    hs = d // H
    W = {k: np.asarray(v, np.float64) for k, v in w.items()}

    def norm(x, g):
        return g * x / np.sqrt(np.mean(x * x) + 1e-5)

    def rope(v, pos, nh):
        v = v.reshape(nh, hs // 2, 2)
        theta = pos / 10000.0 ** (np.arange(0, hs, 2) / hs)
        c, s = np.cos(theta), np.sin(theta)
        out = np.stack([v[..., 0] * c - v[..., 1] * s, v[..., 0] * s + v[..., 1] * c], -1)
        return out.reshape(-1)

    ks, vs, out = [[] for _ in range(cfg["n_layers"])], [[] for _ in range(cfg["n_layers"])], []
    for pos, t in enumerate(tokens):
        x = W["token_embedding_table"][t]
        for l in range(cfg["n_layers"]):
            xb = norm(x, W["rms_att_weight"][l])
            q = rope(W["wq"][l] @ xb, pos, H)
            ks[l].append(rope(W["wk"][l] @ xb, pos, KV))
            vs[l].append(W["wv"][l] @ xb)
            K = np.array(ks[l]).reshape(pos + 1, KV, hs)
            V = np.array(vs[l]).reshape(pos + 1, KV, hs)
            heads = []
            for h in range(H):
                kvh = h // (H // KV)
                a = K[:, kvh] @ q[h * hs:(h + 1) * hs] / np.sqrt(hs)
                a = np.exp(a - a.max())
                heads.append((a / a.sum()) @ V[:, kvh])
            x = x + W["wo"][l] @ np.concatenate(heads)
            xb = norm(x, W["rms_ffn_weight"][l])
            h1 = W["w1"][l] @ xb
            x = x + W["w2"][l] @ (h1 / (1 + np.exp(-h1)) * (W["w3"][l] @ xb))
        out.append(W["wcls"] @ norm(x, W["rms_final_weight"]))
    return out


@pytest.mark.parametrize("shape", [
    (16, 40, 2, 4, 2, 300, 32, True),   # GQA
    (24, 50, 1, 2, 2, 260, 16, False),  # MHA, unshared classifier
    (32, 64, 2, 4, 1, 280, 24, True),   # MQA
])
def test_forward_matches_float64(tmp_path, shape):
    *dims, shared = shape
    p = tmp_path / "m.bin"
    llama2.random_checkpoint(p, *dims, shared=shared, seed=2)
    cfg, w = llama2.read_checkpoint(p)
    tr = R.Transformer(cfg, w)
    rng = np.random.default_rng(0)
    tokens = [1] + list(rng.integers(0, cfg["vocab_size"], size=cfg["seq_len"] - 1))
    want = _forward64(cfg, w, tokens)
    for pos, t in enumerate(tokens):
        got = tr.forward(t, pos)
        assert got.dtype == np.float32 and got.shape == (cfg["vocab_size"],)
        np.testing.assert_allclose(got, want[pos], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError):
        tr.forward(cfg["vocab_size"], 0)
    with pytest.raises(ValueError):
        tr.forward(0, cfg["seq_len"])


def test_generate_random_model(tmp_path):
    p = tmp_path / "m.bin"
    cfg, w = llama2.random_checkpoint(p, 32, 64, 2, 4, 2, 320, 64, seed=4)
    tok = R.Tokenizer(*llama2.random_tokenizer(320, seed=4))
    tr = R.Transformer(cfg, w)
    ids = [t for t, _ in R.generate_tokens(tr, tok, b"Once upon", 40, 1.0, 0.9, 42)]
    assert len(set(ids)) > 5  # non-degenerate
    out = R.generate(R.Transformer(cfg, w), tok, b"Once upon", 40, 1.0, 0.9, 42)
    assert out.startswith(b"Once upon") and out.endswith(b"\n")
    assert out == R.generate(R.Transformer(cfg, w), tok, b"Once upon", 40, 1.0, 0.9, 42)
    greedy = R.generate(R.Transformer(cfg, w), tok, b"", 30, 0.0, 0.9, 1)
    assert greedy == R.generate(R.Transformer(cfg, w), tok, b"", 30, 0.0, 0.9, 999)
    # steps <= 0 or > seq_len means seq_len
    n = sum(1 for _ in R.generate_tokens(R.Transformer(cfg, w), tok, b"", 0, 0.0, 0.9, 1))
    assert n <= cfg["seq_len"]


# ---------------------------------------------------------------------------------------------
# golden outputs of llama2.c's run

def test_golden_greedy(stories_path, tok512, golden_dir):
    want = open(os.path.join(golden_dir, "stories260K_t0.txt"), "rb").read()
    got = R.generate(R.Transformer.from_file(stories_path), tok512, b"", 256, 0.0, 0.9, 1)
    assert got == want


def test_golden_topp_cli(stories_path, models_dir, golden_dir):
    want = open(os.path.join(golden_dir, "stories260K_t1_p0.9_s133742.txt"), "rb").read()
    r = subprocess.run([sys.executable, "-m", "host.reference", stories_path,
                        "-z", os.path.join(models_dir, "tok512.bin"),
                        "-t", "1.0", "-p", "0.9", "-s", "133742"],
                       cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    assert r.stdout == want
    assert b"achieved tok/s" in r.stderr


def test_prompt_is_echoed(stories_path, tok512):
    out = R.generate(R.Transformer.from_file(stories_path), tok512, b"Once upon a time", 20, 0.0, 0.9, 1)
    assert out.startswith(b"Once upon a time") and out.endswith(b"\n")
