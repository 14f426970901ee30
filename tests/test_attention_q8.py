"""Integer attention over the int8 KV cache and the fast exponential
(usermod/llm/attention_q8*.c, activations_fast.c), in the firmware against numpy.

The kernel is modelled here in numpy with the same float32 operations in the
same order and exact integer sums, so every float it returns must match the
model bit for bit: scores, exponentials and outputs, whichever of the SIMD or
portable paths computed them.  A second test bounds the distance to float64
attention over the same dequantised keys and values, with a bound computed
from what the kernel rounds (int16 weights, the softmax exponential's
relative error).

The s3-marked tests run the S3's SIMD attention (its own int8 cache layout)
and its fp32-cache attention on the emulated core (boards/s3sim) and compare
every position's logits with the host firmware's, bit for bit.
"""
import json

import numpy as np
import pytest

import mpy
from host import reference as R

f32 = np.float32
BLOCK = 256  # LLM_ATT_Q8_BLOCK
WMAX = 32639  # LLM_ATT_Q8_WMAX: 127 * 256 + 127, two int8 digits on the S3


# ---- numpy model ----------------------------------------------------------------

def exp_fast(x):
    """llm_exp_fast's arithmetic, float32 operation by operation."""
    x = np.asarray(x, dtype=f32)
    xc = np.where(x < f32(-87.33), f32(-87.33), x).astype(f32)
    xc = np.where(xc > f32(88.0), f32(88.0), xc).astype(f32)
    t = xc * f32(1.44269504) + f32(12582912.0)
    n = t - f32(12582912.0)
    r = xc - n * f32(0.693359375)
    r = r - n * f32(-2.12194440e-4)
    p = f32(8.312505670e-3)
    p = p * r + f32(4.189007729e-2)
    p = p * r + f32(1.666711420e-1)
    p = p * r + f32(4.999923110e-1)
    p = p * r * r + r + f32(1.0)
    sb = ((t.view(np.uint32).astype(np.int64) - 0x4b400000 + 127) << 23) & 0xffffffff
    return (p * sb.astype(np.uint32).view(f32)).astype(f32)


EXP_SOFT_MAX_REL = 1.1e-4  # exp2_soft's relative error, measured below


LOG2E = f32(1.44269504)


def exp2_soft(y):
    """The softmax's exponential (exp2_soft_k in fastexp.h, for y <= 0:
    a score minus the largest, times LOG2E), float32 operation by
    operation: 2**y as 2**n p(y - n)."""
    y = np.asarray(y, dtype=f32)
    y = np.where(y < f32(-126.0), f32(-126.0), y).astype(f32)
    t = (y + f32(12582912.0)).astype(f32)
    fr = (y - (t - f32(12582912.0))).astype(f32)
    p = f32(5.500892922e-2)
    p = (p * fr + f32(2.422109544e-1)).astype(f32)
    p = (p * fr + f32(6.932829022e-1)).astype(f32)
    p = (p * fr + f32(1.0)).astype(f32)
    sb = ((t.view(np.uint32).astype(np.int64) - 0x4b400000 + 127) << 23) & 0xffffffff
    return (p * sb.astype(np.uint32).view(f32)).astype(f32)


def attention_q8(q, qs, k, ks, v, vs, pos):
    """(out, att[0..pos]) of llm_attention_q8i; k and v are [head_size][ctx] int8."""
    hs, ctx = k.shape
    n = pos + 1
    c = f32(qs) / np.sqrt(f32(hs))
    acc = q.astype(np.int64) @ k[:, :n].astype(np.int64)
    att = (acc.astype(f32) * (c * ks[:n])).astype(f32)
    e = exp2_soft((att - att.max()) * LOG2E)
    out = np.zeros(hs, dtype=f32)
    for t0 in range(0, n, BLOCK):
        sl = slice(t0, min(n, t0 + BLOCK))
        vmax = f32(max(f32(0.0), vs[sl].max()))
        inv = f32(WMAX) / vmax if vmax > 0 else f32(0.0)
        wj = e[sl] * vs[sl] * inv + f32(0.5)
        w = np.minimum(wj, f32(WMAX)).astype(np.int64)
        dots = v[:, sl].astype(np.int64) @ w
        out = (out + dots.astype(f32) * (vmax / f32(WMAX))).astype(f32)
    s4 = np.zeros(4, dtype=f32)
    n4 = n - n % 4
    for t in range(0, n4, 4):
        s4 = s4 + e[t:t + 4]
    for t in range(n4, n):
        s4[0] = s4[0] + e[t]
    total = (s4[0] + s4[1]) + (s4[2] + s4[3])
    return (out * (f32(1.0) / total)).astype(f32), e


def quantize(x):
    """llm_quantize_q8 with one group: codes and scale."""
    amax = f32(np.abs(x).max())
    if amax == 0:
        return np.zeros(x.shape, np.int8), f32(0.0)
    v = x * (f32(127.0) / amax)
    return np.clip(np.round(v), -127, 127).astype(np.int8), amax / f32(127.0)


# ---- exp_fast -----------------------------------------------------------------------

def run_exp_fast(x):
    res = mpy.snippet(r'''
import _llm
from array import array
x = array("f", load("x"))
_llm.exp_fast(x)
emit("y", x)
''', {"x": mpy.f32_bytes(x)})
    return mpy.f32(res["y"])


def ulps(a, b):
    """Distance in units in the last place of non-negative floats."""
    return np.abs(mpy.bits(a).astype(np.int64) - mpy.bits(b).astype(np.int64))


def test_exp_fast_within_2_ulp_of_expf(firmware):
    if not R.HAVE_LIBM:
        pytest.skip("no C math library through ctypes")
    rng = np.random.default_rng(5)
    ln2 = np.log(2.0)
    # Where the range reduction switches n: (k + 1/2) ln 2 and the floats next to it.
    edges = np.array([(kk + 0.5) * ln2 for kk in range(-126, 127)], dtype=f32)
    edges = np.concatenate([edges, np.nextafter(edges, f32(-np.inf)), np.nextafter(edges, f32(np.inf))])
    x = np.concatenate([
        np.linspace(-87.33, 0.0, 400001, dtype=f32),             # softmax's inputs
        -rng.exponential(4.0, 200000).astype(f32),
        -np.logspace(-30, 1, 2000, dtype=f32),                    # tiny ones: e**x near 1
        np.linspace(0.0, 88.0, 100001, dtype=f32),                # sigmoid's e**-x
        edges[(edges >= f32(-87.33)) & (edges <= f32(88.0))],
        np.array([0.0, -0.0, -87.33, 88.0], dtype=f32),
    ]).astype(f32)
    got = run_exp_fast(x)
    exact = R.expf(x)
    err = ulps(got, exact)
    worst = int(err.argmax())
    assert err.max() <= 2, "exp_fast(%r) = %r, expf %r: %d ulp" % (
        float(x[worst]), float(got[worst]), float(exact[worst]), err.max())
    # and it is the arithmetic the model below assumes
    mpy.assert_bits_equal(got, exp_fast(x), "exp_fast vs numpy model")


def test_exp_fast_below_the_normal_range_is_tiny(firmware):
    x = np.concatenate([np.linspace(-200.0, -87.34, 1001, dtype=f32), np.array([-1e30, -3e38], dtype=f32)])
    got = run_exp_fast(x)
    assert np.all(got >= 0) and np.all(got <= f32(1.2e-38))


def test_exp_soft_relative_error_bound():
    """The softmax's exponential trades accuracy for operations (a cubic and
    one multiplication by log2(e) for the range reduction, or none where it
    is folded into the scores' scale (llm_attention_f32_fast), where
    exp_fast has a quintic and Cody and Waite's two steps: 7 to 8 fewer S3
    instructions per score, `make bench-s3`).  Its largest
    relative error over a dense sweep of the softmax's inputs is 1.06e-4
    (the cubic's 1.02e-4 plus float rounding; the rounding of scores to
    units of ln 2 adds about |x| 2**-24).
    That is enough: every weight it makes is then quantised to an int16
    code (half a code is 1 / 65278 of the block's largest weight), the
    weights are normalised by their own sum, so a common relative error
    cancels, and the int8 variants' perplexities stay within 0.5% of fp32's
    (tests/test_int8_quality.py).  The model is the firmware's arithmetic
    bit for bit: the attention tests below compare every exponential."""
    rng = np.random.default_rng(6)
    x = np.concatenate([
        np.linspace(-87.33, 0.0, 2000001, dtype=f32),
        -rng.exponential(4.0, 200000).astype(f32),
        -np.logspace(-30, 1, 2000, dtype=f32),
        np.array([0.0, -0.0, -87.33], dtype=f32),
    ]).astype(f32)
    with np.errstate(over="ignore"):  # -inf below -2.4e38: clamped
        got = exp2_soft((x * LOG2E).astype(f32)).astype(np.float64)
    rel = np.abs(got / np.exp(x.astype(np.float64)) - 1)
    assert rel.max() <= EXP_SOFT_MAX_REL, "e**%r: relative error %g" % (float(x[rel.argmax()]), rel.max())
    assert rel.max() > 0.9e-4  # the bound stated is the one measured
    assert exp2_soft(np.array([0.0, -0.0], f32)).tolist() == [1.0, 1.0]  # the largest score weighs 1
    # Below the normal range it stays tiny and positive.
    tiny = exp2_soft(np.array([-126.01, -144.0, -1e30, -3e38, -np.inf], f32))
    assert np.all(tiny > 0) and np.all(tiny <= f32(1.2e-38))


# ---- integer attention --------------------------------------------------------------

# (head_size, ctx, pos): 16-position chunks with and without a partial last
# chunk, chunks that cannot run past pos because ctx ends (ctx % 16 != 0),
# odd head sizes (an unpaired key row), more than one 256-position value
# block, and the largest head size.
CASES = [(8, 16, 0), (8, 16, 15), (8, 17, 16), (8, 100, 37), (8, 100, 99), (8, 256, 255),
         (48, 64, 40), (48, 300, 299), (5, 40, 33), (1, 3, 2), (7, 513, 400), (256, 20, 19),
         (8, 520, 519), (16, 33, 32)]


def rand_cache(rng, hs, ctx, pos):
    k = rng.integers(-127, 128, (hs, ctx)).astype(np.int8)
    v = rng.integers(-127, 128, (hs, ctx)).astype(np.int8)
    ks = rng.uniform(0.001, 0.05, ctx).astype(f32)
    vs = rng.uniform(0.001, 0.05, ctx).astype(f32)
    # Past pos a cache holds anything, even bits that are not finite floats.
    ks[pos + 1:] = np.frombuffer(rng.bytes(4 * (ctx - pos - 1)), dtype=f32)
    return k, ks, v, vs


def run_attention(cases, heads=1):
    """cases: name -> (q, qs, k, ks, v, vs, pos), with q [heads][head_size]
    and qs [heads]; out [heads][head_size] and att [heads][ctx] come back,
    after checking the guards around them."""
    data, meta = {}, []
    for name, (q, qs, k, ks, v, vs, pos) in cases.items():
        for part, arr in (("q", q), ("qs", np.asarray(qs, dtype=f32)), ("k", k), ("ks", ks), ("v", v), ("vs", vs)):
            data[name + part] = arr.tobytes()
        meta.append([name, q.size, k.shape[1], pos])
    data["meta"] = json.dumps(meta).encode()
    res = mpy.snippet(r'''
import json, _llm
from array import array
G = b"\x5a" * 8
for name, nq, ctx, pos in json.loads(load("meta")):
    out = bytearray(G + b"\xa5" * (4 * nq) + G)
    att = bytearray(G + b"\xa5" * (4 * ctx * %d) + G)
    _llm.attention_q8(memoryview(out)[8:-8], memoryview(att)[8:-8], load(name + "q"), array("f", load(name + "qs")),
                      load(name + "k"), array("f", load(name + "ks")), load(name + "v"), array("f", load(name + "vs")),
                      pos, %d)
    emit(name, [out, att])
''' % (heads, heads), data, timeout=120)
    got = {}
    for name, (q, qs, k, ks, v, vs, pos) in cases.items():
        out, att = res[name]
        assert out[:8] == out[-8:] == att[:8] == att[-8:] == b"\x5a" * 8, name + ": wrote outside out or att"
        got[name] = (mpy.f32(out[8:-8]).reshape(heads, -1), mpy.f32(att[8:-8]).reshape(heads, k.shape[1]))
    return got


def make_cases(seed):
    rng = np.random.default_rng(seed)
    cases = {}
    for hs, ctx, pos in CASES:
        k, ks, v, vs = rand_cache(rng, hs, ctx, pos)
        q, qs = quantize(rng.standard_normal(hs).astype(f32))
        cases["c%d_%d_%d" % (hs, ctx, pos)] = (q, qs, k, ks, v, vs, pos)
    # Largest sums: every code 127 (scores 256 * 127 * 127, scaled by 256
    # on SIMD), equal scores so every weight code is WMAX, value sums
    # 256 * WMAX * 127 in one block.
    hs, ctx = 256, 300
    full = np.full((hs, ctx), 127, np.int8)
    ones = np.full(ctx, 0.01, f32)
    cases["max_codes"] = (np.full(hs, 127, np.int8), f32(0.02), full, ones, full, ones, ctx - 1)
    cases["min_codes"] = (np.full(hs, -127, np.int8), f32(0.02), full, ones, -full, ones, ctx - 1)
    # A zero query (scale 0): uniform weights.  All-zero values (scale 0) in a block.
    k, ks, v, vs = rand_cache(rng, 8, 40, 39)
    cases["zero_q"] = (np.zeros(8, np.int8), f32(0.0), k, ks, v, vs, 39)
    k, ks, v, vs = rand_cache(rng, 8, 300, 299)
    vs[:BLOCK] = 0
    v[:, :BLOCK] = 0
    q, qs = quantize(rng.standard_normal(8).astype(f32))
    cases["zero_values_block"] = (q, qs, k, ks, v, vs, 299)
    # Peaked scores: exponentials far below the normal range.
    k, ks, v, vs = rand_cache(rng, 8, 64, 63)
    ks[:64] = f32(5.0)
    cases["peaked"] = (np.full(8, 127, np.int8), f32(1.0), k, ks, v, vs, 63)
    return cases


def test_attention_q8_matches_numpy_model_bit_for_bit(firmware):
    cases = make_cases(3)
    got = run_attention(cases)
    for name, (q, qs, k, ks, v, vs, pos) in cases.items():
        out, att = got[name]
        want_out, want_att = attention_q8(q, qs, k, ks, v, vs, pos)
        mpy.assert_bits_equal(att[0, :pos + 1], want_att, name + " att")
        mpy.assert_bits_equal(out[0], want_out, name + " out")
    # The all-127 case's outputs are the value exactly: uniform weights.
    out, _ = got["max_codes"]
    assert np.allclose(out, 127 * 0.01, rtol=1e-6)


@pytest.mark.parametrize("heads", [2, 3, 4])
def test_query_heads_sharing_a_kv_head_match_each_head_alone(firmware, heads):
    # Grouped-query attention: heads go in pairs over the shared keys and
    # values; each must come out as the single-head model.
    rng = np.random.default_rng(10 + heads)
    cases = {}
    for hs, ctx, pos in [(8, 100, 99), (8, 16, 3), (5, 300, 299), (48, 64, 63)]:
        k, ks, v, vs = rand_cache(rng, hs, ctx, pos)
        qq = [quantize(rng.standard_normal(hs).astype(f32)) for _ in range(heads)]
        q = np.stack([x for x, _ in qq])
        qs = np.array([y for _, y in qq], dtype=f32)
        cases["g%d_%d_%d" % (hs, ctx, pos)] = (q, qs, k, ks, v, vs, pos)
    got = run_attention(cases, heads)
    for name, (q, qs, k, ks, v, vs, pos) in cases.items():
        out, att = got[name]
        for h in range(heads):
            want_out, want_att = attention_q8(q[h], qs[h], k, ks, v, vs, pos)
            mpy.assert_bits_equal(att[h, :pos + 1], want_att, "%s head %d att" % (name, h))
            mpy.assert_bits_equal(out[h], want_out, "%s head %d out" % (name, h))


def test_attention_q8_close_to_float_attention(firmware):
    cases = make_cases(4)
    got = run_attention(cases)
    for name, (q, qs, k, ks, v, vs, pos) in cases.items():
        n = pos + 1
        K = k[:, :n].astype(np.float64) * ks[:n].astype(np.float64)
        V = v[:, :n].astype(np.float64) * vs[:n].astype(np.float64)
        s = (q.astype(np.float64) * float(qs)) @ K / np.sqrt(q.size)
        p = np.exp(s - s.max())
        ref = V @ (p / p.sum())
        # What the kernel rounds: each weight code by half a code of its
        # block's scale (vmax / WMAX); each exponential by its relative
        # error (EXP_SOFT_MAX_REL, which includes the rounding of x log2(e))
        # and by the float32 rounding of the scores it is taken of (a few
        # 2**-24 of the largest score, absolute); the float sum of the n exponentials
        # (n / 4 additions per lane).  Twice that, for the smaller float
        # roundings not counted.
        vmax = np.zeros(n)
        for t0 in range(0, n, BLOCK):
            vmax[t0:t0 + BLOCK] = vs[t0:min(n, t0 + BLOCK)].max()
        code_err = np.abs(v[:, :n]) @ (0.5 * vmax / WMAX) / p.sum()
        rel = 2 * EXP_SOFT_MAX_REL + 4 * 2.0 ** -24 * np.abs(s).max() + (n / 4 + 2) * 2.0 ** -23
        bound = 2 * (code_err + rel * (np.abs(V) @ p) / p.sum())
        out, _ = got[name]
        err = np.abs(out[0] - ref)
        assert np.all(err <= bound), "%s: error %g over bound %g at %d" % (
            name, err.max(), bound[err.argmax()], err.argmax())


def test_attention_q8_checks_its_arguments(firmware):
    res = mpy.snippet(r'''
import _llm
from array import array
F = lambda n: array("f", [0.1] * n)
B = lambda n: bytes(n)
emit("ok", catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(128), F(16), B(128), F(16), 15))
emit("ok 2 heads", catch(_llm.attention_q8, F(16), F(32), B(16), F(2), B(128), F(16), B(128), F(16), 15, 2))
emit("pos at ctx", catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(128), F(16), B(128), F(16), 16))
emit("pos negative", catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(128), F(16), B(128), F(16), -1))
emit("att short of ctx", catch(_llm.attention_q8, F(8), F(15), B(8), F(1), B(128), F(16), B(128), F(16), 3))
emit("att short of heads", catch(_llm.attention_q8, F(16), F(31), B(16), F(2), B(128), F(16), B(128), F(16), 3, 2))
emit("qs short of heads", catch(_llm.attention_q8, F(16), F(32), B(16), F(1), B(128), F(16), B(128), F(16), 3, 2))
emit("k short", catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(127), F(16), B(128), F(16), 3))
emit("v short", catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(128), F(16), B(127), F(16), 3))
emit("vs short", catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(128), F(16), B(128), F(15), 3))
emit("q length", catch(_llm.attention_q8, F(8), F(16), B(7), F(1), B(128), F(16), B(128), F(16), 3))
emit("head 257", catch(_llm.attention_q8, F(257), F(1), B(257), F(1), B(257), F(1), B(257), F(1), 0))
emit("heads 0", catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(128), F(16), B(128), F(16), 3, 0))
emit("heads not dividing", catch(_llm.attention_q8, F(8), F(48), B(8), F(3), B(128), F(16), B(128), F(16), 3, 3))
emit("out read-only", catch(_llm.attention_q8, bytes(32), F(16), B(8), F(1), B(128), F(16), B(128), F(16), 3))
# A value scale outside [0, max float] (issue 18, defect 4: it made the weights' int conversion undefined).
for bad in (-1.0, -1e30, float("-inf"), float("inf"), float("nan")):
    vs = F(16)
    vs[2] = bad
    emit("vs %r" % bad, catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(128), F(16), B(128), vs, 15))
vs = F(16)
vs[2] = 0.0
emit("vs zero", catch(_llm.attention_q8, F(8), F(16), B(8), F(1), B(128), F(16), B(128), vs, 15))
''')
    assert res["ok"] == ["ok", None] and res["ok 2 heads"] == ["ok", None]
    for name in ("pos at ctx", "pos negative", "att short of ctx", "att short of heads", "qs short of heads",
                 "k short", "v short", "vs short", "q length", "head 257", "heads 0", "heads not dividing"):
        assert res[name][0] == "ValueError", name
    assert res["out read-only"][0] == "TypeError"
    for bad in ("-1.0", "-1e+30", "-inf", "inf", "nan"):
        assert res["vs " + bad][0] == "ValueError" and "vs must be finite" in res["vs " + bad][1], bad
    assert res["vs zero"] == ["ok", None]


# ---- the S3's SIMD attention on the emulated core ---------------------------------
#
# On the ESP32-S3 the int8 KV cache has its own layout (keys by position,
# attention_q8.h) and llm_attention_q8_cache runs its scores and value sums
# through the SIMD (PIE); llm_attention_f32_fast (int8 weights, fp32 cache)
# runs loops shaped for the S3's compiler.  Both must give the host's floats
# bit for bit: each forward pass's logits are compared, position by position,
# between the emulated S3 core (boards/s3sim) and the host firmware.
# tests/test_s3_kernels.py's harness checks the same for the C forward pass
# alone (stories260K.bin with the int8 cache, logits of every position).

S3_LOGITS = """
import llm, json, array
m = llm.load(%(path)r, ctx=%(ctx)d, kv=%(kv)r)
tok, toks, sums = 1, [], []
for pos in range(%(steps)d):
    lg = m.forward(tok, pos)
    best, h = 0, 0
    for i in range(len(lg)):
        if lg[i] > lg[best]:
            best = i
    # A checksum of the logits' bits.
    for x in array.array('I', bytes(lg)):
        h = (h * 1000003 + x) & 0xffffffff
    toks.append(best)
    sums.append(h)
    tok = best
print(json.dumps([toks, sums]))
"""


@pytest.fixture(scope="module")
def s3_int8_romfs(tmp_path_factory, models_dir):
    import os
    from repo import REPO, make_ok
    from host import convert, romfs
    make_ok("s3-firmware", timeout=1800)  # unpacks the S3 tools first when they are missing
    d = tmp_path_factory.mktemp("s3-att")
    model = str(d / "s260_int8.llm")
    convert.convert(os.path.join(models_dir, "stories260K.bin"), os.path.join(models_dir, "tok512.bin"),
                    model, "int8")
    # Random models whose head sizes take the SIMD's other shapes: 12 and 48
    # (positions padded to 16 bytes or filling 3 chunks), 24 (odd positions
    # start in the middle of a 16-byte chunk).
    from host import llama2, modelfile
    tok = open(os.path.join(models_dir, "tok512.bin"), "rb").read()
    for hs, dim, heads, kv_heads in SHAPES:
        cfg = dict(dim=dim, hidden_dim=2 * dim, n_layers=2, n_heads=heads, n_kv_heads=kv_heads, vocab_size=512,
                   seq_len=128)
        cfg, w = llama2.random_weights(cfg, seed=hs)
        modelfile.write(str(d / ("hs%d.llm" % hs)), cfg, w, tok, dtype="int8")
    img = str(d / "m.romfs")
    romfs.write_image(img, [model] + [str(d / ("hs%d.llm" % s[0])) for s in SHAPES])
    return model, img, os.path.join(REPO, "build", "s3sim", "firmware.elf")


# (head size, dim, heads, KV heads) of the random models.
SHAPES = [(12, 48, 4, 2), (24, 96, 4, 2), (48, 96, 2, 1)]


def run_on_s3(elf, img, script, timeout=900):
    """The JSON line a script prints last, run on a fresh emulated S3 core."""
    from host import bench_s3
    out, _ = bench_s3.run_script(elf, img, script, timeout=timeout, profile=False)
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.s3
@pytest.mark.parametrize("kv, ctx, steps", [("int8", 256, 200), ("f32", 64, 64)])
def test_s3_attention_gives_the_host_logits_bit_for_bit(firmware, s3_int8_romfs, kv, ctx, steps):
    """int8 weights with the int8 KV cache (SIMD scores and value sums in the
    S3's layout, pairs of positions per 16-byte chunk for head size 8, value
    blocks past 16-position boundaries) and with the fp32 cache
    (llm_attention_f32_fast): greedy tokens of every position and the logits'
    bits (a checksum) at every position."""
    from host import firmware as host_firmware
    model, img, elf = s3_int8_romfs
    args = {"ctx": ctx, "kv": kv, "steps": steps}
    on_s3 = run_on_s3(elf, img, S3_LOGITS % dict(args, path="/rom/s260_int8.llm"))
    on_host = host_firmware.run_code(S3_LOGITS % dict(args, path=model))
    assert len(on_s3[0]) == len(on_s3[1]) == steps
    assert on_s3[0] == on_host[0]
    for p in range(steps):
        assert on_s3[1][p] == on_host[1][p], "logits differ at position %d" % p


@pytest.mark.s3
@pytest.mark.parametrize("hs", [s[0] for s in SHAPES])
def test_s3_int8_kv_attention_other_head_sizes(firmware, s3_int8_romfs, hs):
    """The int8 KV cache's SIMD path for head sizes other than stories260K's 8."""
    import os
    from host import firmware as host_firmware
    model, img, elf = s3_int8_romfs
    path = os.path.join(os.path.dirname(model), "hs%d.llm" % hs)
    args = {"ctx": 80, "kv": "int8", "steps": 80}
    on_s3 = run_on_s3(elf, img, S3_LOGITS % dict(args, path="/rom/hs%d.llm" % hs))
    on_host = host_firmware.run_code(S3_LOGITS % dict(args, path=path))
    assert len(on_s3[1]) == 80
    assert on_s3 == on_host
