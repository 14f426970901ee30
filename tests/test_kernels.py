"""The _llm kernels in the firmware against numpy.

Each kernel runs in build/micropython on random data (odd sizes included) with
every kind of buffer: bytes (read-only inputs), bytearray, array, memoryview
slices of a bytearray and of an array.  Outputs written through a memoryview
slice sit between guard bytes that must stay untouched.  Results come back as
raw float32 bytes and are compared bit for bit with a numpy float32
re-implementation of the same C arithmetic (host/reference.py, which mirrors
llama2.c), and matmul also within a rounding-error bound of float64 numpy.
"""

import decimal
import json
import struct

import numpy as np

import mpy
from host import reference as R

f32 = np.float32
REF_COSF, REF_SINF = R.cosf, R.sinf  # as shipped (the libm_reference fixture patches them)
PAD = b"\xa5" * 8
IN_KINDS = ("bytes", "bytearray", "array", "mv", "mvarray")
OUT_KINDS = ("bytearray", "array", "mv", "mvarray")

# MicroPython side: build a buffer of a given kind from raw bytes.
MAKE = r'''
import json
import _llm
from array import array

PAD = b"\xa5" * 8
SIZES = {"f": 4, "b": 1, "i": 4, "H": 2}


def make(kind, b, tc="f"):
    """(buffer, backing): the backing object is what the test gets back."""
    if kind == "bytes":
        b = bytes(b)
        return b, b
    if kind == "bytearray":
        x = bytearray(b)
        return x, x
    if kind == "array":
        x = array(tc, b)
        return x, x
    if kind == "mv":
        back = bytearray(PAD + b + PAD)
        return memoryview(back)[8:8 + len(b)], back
    if kind == "mvarray":
        size = SIZES[tc]
        back = array(tc, PAD + b + PAD)
        return memoryview(back)[8 // size:(8 + len(b)) // size], back
    raise ValueError(kind)

'''


def unwrap(back, kind):
    """The data bytes of a backing buffer; guard bytes of memoryview kinds must be intact."""
    if kind in ("mv", "mvarray"):
        assert back[:8] == PAD and back[-8:] == PAD, "%s: guard bytes overwritten" % kind
        return back[8:-8]
    return back


def run_cases(code, data, **kw):
    return mpy.snippet(MAKE + code, data=data, **kw)


def rand(rng, *shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# matmul

MATMUL_SHAPES = [(1, 1), (3, 1), (1, 3), (3, 3), (172, 1), (1, 172), (172, 64), (64, 172), (17, 5)]


def test_matmul(firmware):
    rng = np.random.default_rng(1)
    data, cases, want = {}, [], {}
    for si, (n, d) in enumerate(MATMUL_SHAPES):
        x, w = rand(rng, n), rand(rng, d, n)
        data["x%d" % si], data["w%d" % si] = x.tobytes(), w.tobytes()
        want[si] = (x, w)
        for ki, kind in enumerate(IN_KINDS):
            cases.append(["m%d_%d" % (si, ki), si, kind, IN_KINDS[(ki + 2) % 5], OUT_KINDS[(ki + si) % 4], d])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
for name, si, xk, wk, ok, d in json.loads(load("cases")):
    x, _ = make(xk, load("x%d" % si))
    w, _ = make(wk, load("w%d" % si))
    out, back = make(ok, b"\x5a" * (4 * d))
    _llm.matmul(out, x, w)
    emit(name, back)
''', data)
    for name, si, xk, wk, ok, d in cases:
        x, w = want[si]
        got = mpy.f32(unwrap(res[name], ok))
        # bit for bit: llama2.c's sequential float32 sum of float32 products
        mpy.assert_bits_equal(got, R.matmul(w, x), name)
        # and close to the exact product: |error| <= n * 2^-24 * sum |w x| (+ tiny)
        exact = w.astype(np.float64) @ x.astype(np.float64)
        bound = len(x) * 2.0 ** -24 * (np.abs(w.astype(np.float64)) @ np.abs(x.astype(np.float64))) + 1e-30
        assert np.all(np.abs(got - exact) <= bound), name


def test_matmul_sequential_order_matters(firmware):
    # A case where a pairwise/blocked sum (np.dot) and the sequential one differ:
    # checks that the comparison above could tell them apart.
    x = np.array([1.0, 1e8, -1e8, 1.0, 0.5, 3.0], np.float32)
    w = np.ones((1, 6), np.float32)
    res = run_cases(r'''
out = bytearray(4)
_llm.matmul(out, load("x"), load("w"))
emit("out", out)
''', {"x": x.tobytes(), "w": w.tobytes()})
    got = mpy.f32(res["out"])
    mpy.assert_bits_equal(got, R.matmul(w, x), "sequential")
    seq = f32(0.0)
    for v in x:
        seq = f32(seq + v)  # one float32 rounding per addition, left to right
    assert got[0] == seq
    assert got[0] != np.float32(np.sum(x.astype(np.float64)))  # the exact sum differs


# ---------------------------------------------------------------------------------------------
# int8: quantize, matmul_q8

def np_quantize(x, gs):
    """llm_quantize_q8 in numpy: scale = amax / 127 (float32), codes = roundf(x * (127 / amax))."""
    g = np.asarray(x, np.float32).reshape(-1, gs)
    amax = np.max(np.abs(g), axis=1)
    scales = (amax / f32(127.0)).astype(np.float32)
    codes = np.zeros(g.shape, np.int8)
    for i in range(g.shape[0]):
        if amax[i] == 0:
            continue
        inv = f32(127.0) / amax[i]
        v = (g[i] * inv).astype(np.float32).astype(np.float64)
        codes[i] = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # roundf: half away from 0
    return codes.reshape(-1), scales


def np_matmul_q8(xq, xs, w, ws16, n, d, gs):
    """llm_matmul_q8 in numpy: per group an exact int32 dot, then sum += (float)dot * ws * xs,
    where W's scales ws16 are IEEE halves (converted exactly to float32)."""
    groups = n // gs
    wq = w.reshape(d, groups, gs).astype(np.int64)
    dots = (wq * xq.reshape(groups, gs).astype(np.int64)).sum(axis=2)  # exact
    ws = np.asarray(ws16, np.float16).astype(np.float32).reshape(d, groups)
    total = np.zeros(d, np.float32)
    for g in range(groups):
        term = (dots[:, g].astype(np.float32) * ws[:, g]).astype(np.float32) * xs[g]
        total = (total + term.astype(np.float32)).astype(np.float32)
    return total


QUANT_SHAPES = [(1, 1), (3, 1), (3, 3), (172, 4), (172, 43), (172, 172), (64, 32), (12, 6)]


def test_quantize(firmware):
    rng = np.random.default_rng(2)
    data, cases, want = {}, [], {}
    for si, (n, gs) in enumerate(QUANT_SHAPES):
        x = rand(rng, n, scale=3.0)
        if n // gs >= 2:
            x[gs:2 * gs] = 0.0  # an all-zero group: scale 0, codes 0, no NaN
        data["x%d" % si] = x.tobytes()
        want[si] = (x, gs)
        for ki, kind in enumerate(IN_KINDS):
            cases.append(["q%d_%d" % (si, ki), si, gs, kind, OUT_KINDS[ki % 4], OUT_KINDS[(ki + 1) % 4], n])
    # exact halves: amax 127 gives inv = 1, so codes are roundf of these (away from zero)
    halves = np.array([127.0, 2.5, -3.5, 0.5, -0.5, 126.5, -1.5, 0.49999997], np.float32)
    data["xhalf"] = halves.tobytes()
    want["half"] = (halves, 8)
    cases.append(["q_half", "half", 8, "bytes", "bytearray", "bytearray", 8])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
for name, si, gs, xk, qk, sk, n in json.loads(load("cases")):
    x, _ = make(xk, load("x%s" % si))
    xq, qback = make(qk, b"\x5a" * n, "b")
    xs, sback = make(sk, b"\x5a" * (4 * (n // gs)))
    _llm.quantize(xq, xs, x, gs)
    emit(name, [qback, sback])
''', data)
    for name, si, gs, xk, qk, sk, n in cases:
        x, gs = want[si]
        qback, sback = res[name]
        codes = np.frombuffer(unwrap(qback, qk), np.int8)
        scales = mpy.f32(unwrap(sback, sk))
        wcodes, wscales = np_quantize(x, gs)
        assert np.array_equal(codes, wcodes), name
        mpy.assert_bits_equal(scales, wscales, name)
        assert np.all(np.isfinite(scales)) and np.all(np.abs(codes.astype(int)) <= 127)
        if si != "half" and n // gs >= 2:
            assert scales[1] == 0 and not codes[gs:2 * gs].any()
    assert list(np.frombuffer(unwrap(res["q_half"][0], "bytearray"), np.int8)) == \
        list(np_quantize(halves, 8)[0])
    # the oracle's rounding is C's roundf (half away from zero), checked with decimal arithmetic
    inv = f32(127.0) / np.max(np.abs(halves))
    assert list(np_quantize(halves, 8)[0]) == [
        int(decimal.Decimal(float(f32(v * inv))).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))
        for v in halves]


Q8_SHAPES = [(1, 1, 1), (3, 1, 3), (3, 2, 1), (172, 64, 43), (64, 172, 32), (172, 3, 4), (64, 64, 64)]


def test_matmul_q8(firmware):
    rng = np.random.default_rng(3)
    data, cases, want = {}, [], {}
    for si, (n, d, gs) in enumerate(Q8_SHAPES):
        xq = rng.integers(-127, 128, n).astype(np.int8)
        w = rng.integers(-127, 128, d * n).astype(np.int8)
        xs = np.abs(rand(rng, n // gs, scale=0.05))
        ws = rand(rng, d * (n // gs), scale=0.05).astype(np.float16)
        # half-precision corner cases: subnormals, the largest half, signed zeros
        specials = np.array([2.0 ** -24, -3 * 2.0 ** -20, 65504.0, -0.0, 0.0, 1.0], np.float16)
        ws[:min(ws.size, specials.size)] = specials[:min(ws.size, specials.size)]
        if n // gs >= 2:
            xs[1] = 0.0  # a zero-scale group contributes exactly 0
        data.update({"xq%d" % si: xq.tobytes(), "w%d" % si: w.tobytes(),
                     "xs%d" % si: xs.tobytes(), "ws%d" % si: ws.tobytes()})
        want[si] = (xq, xs, w, ws, n, d, gs)
        for ki, kind in enumerate(IN_KINDS):
            cases.append(["mq%d_%d" % (si, ki), si, gs, kind, IN_KINDS[(ki + 3) % 5], OUT_KINDS[ki % 4], d])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
for name, si, gs, k1, k2, ok, d in json.loads(load("cases")):
    xq, _ = make(k1, load("xq%d" % si), "b")
    xs, _ = make(k2, load("xs%d" % si))
    w, _ = make(k2, load("w%d" % si), "b")
    ws, _ = make(k1, load("ws%d" % si), "H")
    out, back = make(ok, b"\x5a" * (4 * d))
    _llm.matmul_q8(out, xq, xs, w, ws, gs)
    emit(name, back)
''', data)
    for name, si, gs, k1, k2, ok, d in cases:
        got = mpy.f32(unwrap(res[name], ok))
        mpy.assert_bits_equal(got, np_matmul_q8(*want[si]), name)
        assert np.all(np.isfinite(got))


def test_quantize_then_matmul_q8(firmware):
    # The pipeline the transformer runs for an int8 tensor: quantize x, then the int8 matmul.
    rng = np.random.default_rng(4)
    n, d, gs = 172, 48, 43
    x = rand(rng, n)
    x[:gs] = 0.0
    w = rng.integers(-127, 128, d * n).astype(np.int8)
    ws = np.abs(rand(rng, d * (n // gs), scale=0.02)).astype(np.float16)
    res = run_cases(r'''
xq = bytearray(172)
xs = array("f", bytes(16))
_llm.quantize(xq, xs, load("x"), 43)
out = array("f", bytes(4 * 48))
_llm.matmul_q8(out, xq, xs, load("w"), load("ws"), 43)
emit("out", out)
emit("xs", xs)
''', {"x": x.tobytes(), "w": w.tobytes(), "ws": ws.tobytes()})
    xq, xs = np_quantize(x, gs)
    mpy.assert_bits_equal(mpy.f32(res["xs"]), xs, "xs")
    assert xs[0] == 0
    mpy.assert_bits_equal(mpy.f32(res["out"]), np_matmul_q8(xq, xs, w, ws, n, d, gs), "out")


# ---------------------------------------------------------------------------------------------
# rmsnorm, softmax, argmax, swiglu

def test_rmsnorm(firmware):
    rng = np.random.default_rng(5)
    data, cases, want = {}, [], {}
    for si, n in enumerate([1, 3, 7, 64, 172]):
        x, w = rand(rng, n, scale=2.0), (1 + rand(rng, n, scale=0.1))
        data["x%d" % si], data["w%d" % si] = x.tobytes(), w.tobytes()
        want[si] = (x, w)
        for ki, kind in enumerate(IN_KINDS):
            cases.append(["r%d_%d" % (si, ki), si, kind, IN_KINDS[(ki + 1) % 5], OUT_KINDS[ki % 4], n])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
for name, si, xk, wk, ok, n in json.loads(load("cases")):
    x, _ = make(xk, load("x%d" % si))
    w, _ = make(wk, load("w%d" % si))
    out, back = make(ok, b"\x5a" * (4 * n))
    _llm.rmsnorm(out, x, w)
    emit(name, back)
    # in place, as the transformer's final norm does
    y = bytearray(load("x%d" % si))
    _llm.rmsnorm(y, y, w)
    emit(name + "_inplace", y)
''', data)
    for name, si, xk, wk, ok, n in cases:
        x, w = want[si]
        mpy.assert_bits_equal(mpy.f32(unwrap(res[name], ok)), R.rmsnorm(x, w), name)
        mpy.assert_bits_equal(mpy.f32(res[name + "_inplace"]), R.rmsnorm(x, w), name + " in place")


def test_softmax(firmware):
    rng = np.random.default_rng(6)
    data, cases, want = {}, [], {}
    vecs = [rand(rng, 1), rand(rng, 3), rand(rng, 172, scale=4.0), rand(rng, 512, scale=10.0),
            np.array([80.0, -100.0, 88.0, 88.0, -1e30], np.float32)]  # needs the max subtraction
    for si, x in enumerate(vecs):
        data["x%d" % si] = x.tobytes()
        want[si] = x
        nn = sorted({None, 1, max(1, len(x) // 2), len(x)}, key=lambda v: -1 if v is None else v)
        for ki, n in enumerate(nn):
            cases.append(["s%d_%d" % (si, ki), si, OUT_KINDS[(ki + si) % 4], n])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
for name, si, kind, n in json.loads(load("cases")):
    x, back = make(kind, load("x%d" % si))
    if n is None:
        _llm.softmax(x)
    else:
        _llm.softmax(x, n)
    emit(name, back)
''', data)
    for name, si, kind, n in cases:
        x = want[si]
        got = mpy.f32(unwrap(res[name], kind))
        k = len(x) if n is None else n
        mpy.assert_bits_equal(got[:k], R.softmax(x[:k]), name)
        mpy.assert_bits_equal(got[k:], x[k:], name + " (beyond n: untouched)")
        assert abs(float(np.sum(got[:k], dtype=np.float64)) - 1.0) < 1e-5


def test_argmax(firmware):
    rng = np.random.default_rng(7)
    vecs = [
        np.array([5.0], np.float32),
        np.array([1.0, 3.0, 3.0, 2.0], np.float32),          # tie: the first one
        np.full(9, 0.25, np.float32),                         # all equal: 0
        np.array([-np.inf, -np.inf, -1e38], np.float32),
        np.array([0.0, -0.0, 0.0], np.float32),
        np.array([1.0, 2.0, 7.0], np.float32),                # at the end
        rand(rng, 172),
        np.repeat(rand(rng, 64), 2),                          # every value twice
    ]
    data = {"x%d" % i: v.tobytes() for i, v in enumerate(vecs)}
    data["cases"] = json.dumps([[i, IN_KINDS[i % 5]] for i in range(len(vecs))]).encode()
    res = run_cases(r'''
got = []
for i, kind in json.loads(load("cases")):
    x, _ = make(kind, load("x%d" % i))
    got.append(_llm.argmax(x))
emit("got", got)
''', data)
    assert res["got"] == [int(np.argmax(v)) for v in vecs]  # np.argmax: first maximum


def test_swiglu(firmware):
    rng = np.random.default_rng(8)
    data, cases, want = {}, [], {}
    special = np.array([-100.0, 100.0, 0.0, -0.0, -20.0, 20.0, 1e-30, -88.5], np.float32)
    for si, n in enumerate([1, 3, 172, 8]):
        hb = special.copy() if n == 8 else rand(rng, n, scale=4.0)
        hb2 = rand(rng, n)
        data["a%d" % si], data["b%d" % si] = hb.tobytes(), hb2.tobytes()
        want[si] = (hb, hb2)
        for ki, kind in enumerate(OUT_KINDS):
            cases.append(["g%d_%d" % (si, ki), si, kind, IN_KINDS[(ki + si) % 5]])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
for name, si, hk, k2 in json.loads(load("cases")):
    hb, back = make(hk, load("a%d" % si))
    hb2, _ = make(k2, load("b%d" % si))
    _llm.swiglu(hb, hb2)
    emit(name, back)
''', data)
    for name, si, hk, k2 in cases:
        hb, hb2 = want[si]
        silu = hb * (f32(1.0) / (f32(1.0) + R.expf(-hb)))
        mpy.assert_bits_equal(mpy.f32(unwrap(res[name], hk)), silu * hb2, name)


# ---------------------------------------------------------------------------------------------
# rope, attention

def np_rope(vec, head_size, pos):
    """llama2.c's RoPE: freq = 1/powf(10000, (i % hs) / hs), val = pos * freq, rotate pairs."""
    vec = np.asarray(vec, np.float32)
    hd = np.arange(0, vec.size, 2) % head_size
    freq = np.array([f32(1.0) / R.powf(10000.0, f32(h) / f32(head_size)) for h in hd], np.float32)
    val = f32(pos) * freq
    c, s = mpy.libm_cosf(val), mpy.libm_sinf(val)  # the C library's, as the firmware calls
    v0, v1 = vec[0::2], vec[1::2]
    out = np.empty_like(vec)
    out[0::2] = v0 * c - v1 * s
    out[1::2] = v0 * s + v1 * c
    return out


ROPE_CASES = [(2, 1, 0), (2, 3, 1), (4, 1, 7), (8, 6, 511), (64, 1, 100000), (48, 4, 3),
              (256, 2, 2 ** 31 - 1), (6, 1, 2 ** 24 + 1)]


def test_rope(firmware):
    rng = np.random.default_rng(9)
    data, cases, want = {}, [], {}
    for si, (hs, heads, pos) in enumerate(ROPE_CASES):
        v = rand(rng, hs * heads)
        data["v%d" % si] = v.tobytes()
        want[si] = (v, hs, pos)
        cases.append(["p%d" % si, si, hs, pos, OUT_KINDS[si % 4]])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
for name, si, hs, pos, kind in json.loads(load("cases")):
    v, back = make(kind, load("v%d" % si))
    _llm.rope(v, hs, pos)
    emit(name, back)
''', data)
    for name, si, hs, pos, kind in cases:
        v, hs, pos = want[si]
        got = mpy.f32(unwrap(res[name], kind))
        mpy.assert_bits_equal(got, np_rope(v, hs, pos), name)
        if pos == 0:
            mpy.assert_bits_equal(got, v, "pos 0 is the identity")
        # a rotation keeps each pair's length
        n0 = np.hypot(v[0::2].astype(np.float64), v[1::2])
        n1 = np.hypot(got[0::2].astype(np.float64), got[1::2])
        assert np.allclose(n0, n1, rtol=1e-6, atol=0)


def test_rope_matches_reference_transformer(firmware, libm_reference):
    # The same numbers as host.reference.Transformer.rope for one multi-head vector.
    rng = np.random.default_rng(10)
    cfg, weights = R.llama2.random_weights(dict(dim=48, hidden_dim=8, n_layers=1, n_heads=6, n_kv_heads=6,
                                                vocab_size=8, seq_len=64))
    tr = R.Transformer(cfg, weights)
    v = rand(rng, 48)
    res = run_cases(r'''
v = array("f", load("v"))
_llm.rope(v, 8, 37)
emit("v", v)
''', {"v": v.tobytes()})
    fcr, fci = tr.rope(37)
    want = np.empty_like(v)
    want[0::2] = v[0::2] * fcr - v[1::2] * fci
    want[1::2] = v[0::2] * fci + v[1::2] * fcr
    mpy.assert_bits_equal(mpy.f32(res["v"]), want, "rope vs Transformer.rope")


def np_attention(q, k, v, pos, stride):
    hs = q.size
    T = pos + 1
    K = np.stack([k[t * stride:t * stride + hs] for t in range(T)])
    V = np.stack([v[t * stride:t * stride + hs] for t in range(T)])
    scores = np.cumsum(q[None, :] * K, axis=1, dtype=np.float32)[:, -1]
    scores = scores / np.sqrt(f32(hs))
    att = R.softmax(scores)
    out = np.cumsum(att[:, None] * V, axis=0, dtype=np.float32)[-1]
    return out, att


ATT_CASES = [(2, 0, 2), (3, 1, 3), (1, 0, 1), (8, 5, 24), (16, 40, 32), (64, 3, 64), (4, 9, 7), (6, 2, 18)]


def test_attention(firmware):
    rng = np.random.default_rng(11)
    data, cases, want = {}, [], {}
    for si, (hs, pos, stride) in enumerate(ATT_CASES):
        span = pos * stride + hs
        q, k, v = rand(rng, hs), rand(rng, span), rand(rng, span)
        data.update({"q%d" % si: q.tobytes(), "k%d" % si: k.tobytes(), "v%d" % si: v.tobytes()})
        want[si] = (q, k, v, pos, stride)
        for ki in range(2):
            cases.append(["a%d_%d" % (si, ki), si, hs, pos, stride, OUT_KINDS[(si + ki) % 4],
                          OUT_KINDS[(si + ki + 1) % 4], IN_KINDS[(si + 2 * ki) % 5], pos + 1 + 3 * ki])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
for name, si, hs, pos, stride, ok, ak, ik, natt in json.loads(load("cases")):
    out, oback = make(ok, b"\x5a" * (4 * hs))
    att, aback = make(ak, b"\x5a" * (4 * natt))
    q, _ = make(ik, load("q%d" % si))
    k, _ = make(ik, load("k%d" % si))
    v, _ = make(ik, load("v%d" % si))
    _llm.attention(out, att, q, k, v, pos, stride)
    emit(name, [oback, aback])
''', data)
    for name, si, hs, pos, stride, ok, ak, ik, natt in cases:
        q, k, v, pos, stride = want[si]
        wout, watt = np_attention(q, k, v, pos, stride)
        oback, aback = res[name]
        mpy.assert_bits_equal(mpy.f32(unwrap(oback, ok)), wout, name + " out")
        att = unwrap(aback, ak)
        mpy.assert_bits_equal(mpy.f32(att[:4 * (pos + 1)]), watt, name + " att")
        assert att[4 * (pos + 1):] == b"\x5a" * (4 * (natt - pos - 1)), name + ": att beyond pos written"
        # and close to a float64 computation
        K = np.stack([k[t * stride:t * stride + hs] for t in range(pos + 1)]).astype(np.float64)
        V = np.stack([v[t * stride:t * stride + hs] for t in range(pos + 1)]).astype(np.float64)
        s = K @ q / np.sqrt(hs)
        p = np.exp(s - s.max())
        p /= p.sum()
        assert np.allclose(mpy.f32(unwrap(oback, ok)), p @ V, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# random numbers and sampling

SEEDS = [1, 42, 133742, 2 ** 32 + 7, 2 ** 64 - 1, 0]


def test_random_u32(firmware):
    data = {"seeds": json.dumps([str(s) for s in SEEDS]).encode()}
    res = run_cases(r'''
import struct
for i, s in enumerate(json.loads(load("seeds"))):
    rng = bytearray(struct.pack("<Q", int(s)))
    if i % 2:
        rng = memoryview(rng)
    emit("s%d" % i, [[_llm.random_u32(rng) for _ in range(25)], bytes(rng)])
''', data)
    for i, seed in enumerate(SEEDS):
        vals, state = res["s%d" % i]
        want, st = [], seed
        for _ in range(25):
            u, st = R.random_u32(st)
            want.append(u)
        assert vals == want, "seed %d" % seed
        assert struct.unpack("<Q", state)[0] == st


SAMPLE_CASES = [
    # (vocab, temperature, top_p, seed, draws, logit scale)
    (512, 0.0, 0.9, 5, 4, 3.0),       # greedy: argmax, the rng is not used
    (512, 1.0, 1.0, 42, 12, 3.0),     # pure multinomial (top_p >= 1)
    (172, 1.0, 0.0, 7, 12, 2.0),      # top_p <= 0 is multinomial too
    (512, 0.8, 0.95, 42, 12, 3.0),    # nucleus
    (512, 0.5, 0.5, 12345, 12, 2.0),
    (172, 1.5, 0.9, 133742, 12, 4.0),
    (3, 1.0, 0.5, 99, 12, 1.0),
    (1, 1.0, 1.0, 3, 3, 1.0),
    (64, 1.0, 0.9, 2 ** 64 - 1, 12, 0.0),  # all logits equal: ties keep index order
]


def test_sample(firmware):
    rng = np.random.default_rng(12)
    data, want = {}, {}
    cases = []
    for ci, (n, t, p, seed, draws, scale) in enumerate(SAMPLE_CASES):
        logits = [rand(rng, n, scale=scale) for _ in range(draws)]
        data["l%d" % ci] = b"".join(x.tobytes() for x in logits)
        want[ci] = logits
        cases.append([ci, n, t, p, str(seed), draws, OUT_KINDS[ci % 4]])
    data["cases"] = json.dumps(cases).encode()
    res = run_cases(r'''
import struct
for ci, n, t, p, seed, draws, kind in json.loads(load("cases")):
    rng = bytearray(struct.pack("<Q", int(seed)))
    scratch = array("i", bytes(4 * n))
    allb = load("l%d" % ci)
    picks, after = [], []
    for j in range(draws):
        logits, back = make(kind, allb[4 * n * j:4 * n * (j + 1)])
        picks.append(_llm.sample(logits, t, p, rng, scratch))
        after.append(back)
    emit("c%d" % ci, [picks, bytes(rng), after])
''', data)
    for ci, n, t, p, seed, draws, kind in cases:
        picks, state, after = res["c%d" % ci]
        sampler = R.Sampler(n, t, p, int(seed))
        wpicks = [sampler.sample(x) for x in want[ci]]
        assert picks == wpicks, "case %d" % ci
        assert struct.unpack("<Q", state)[0] == sampler.rng_state, "case %d: rng state" % ci
        for x, b in zip(want[ci], after):
            # sample() leaves the probabilities in the logits (llama2.c does the same)
            probs = x if f32(t) == 0 else R.softmax(x / f32(t))
            mpy.assert_bits_equal(mpy.f32(unwrap(b, kind)), probs, "case %d: logits after" % ci)
    # the draws are not all the same token (the test could tell samplers apart)
    assert len(set(res["c1"][0])) > 3 and len(set(res["c3"][0])) > 1


def test_sample_topp_differs_from_multinomial(firmware):
    # With the same coin, top-p and multinomial must pick differently somewhere: otherwise the
    # top-p cases above would not test the nucleus path at all.
    rng = np.random.default_rng(13)
    logits = [rand(rng, 512, scale=3.0) for _ in range(30)]
    a, b = R.Sampler(512, 1.0, 0.5, 42), R.Sampler(512, 1.0, 1.0, 42)
    assert [a.sample(x) for x in logits] != [b.sample(x) for x in logits]


# ---------------------------------------------------------------------------------------------
# bad arguments: a Python exception each time, and the interpreter keeps running

BAD_CALLS = r'''
import struct
F = lambda n: bytearray(4 * n)
A = lambda n: array("f", bytes(4 * n))
mis = lambda n: memoryview(bytearray(4 * n + 1))[1:]          # not 4-byte aligned
ro = lambda n: bytes(4 * n)                                      # read-only
rov = lambda n: memoryview(bytes(4 * n))                         # read-only memoryview
rng = bytearray(8)
S = lambda n: array("i", bytes(4 * n))
H = lambda n: bytearray(2 * n)
cases = [
    # matmul(out, x, w)
    ("matmul w short", lambda: _llm.matmul(F(2), F(3), F(5))),
    ("matmul w long", lambda: _llm.matmul(F(2), F(3), F(7))),
    ("matmul out empty", lambda: _llm.matmul(F(0), F(3), F(0))),
    ("matmul x empty", lambda: _llm.matmul(F(2), F(0), F(0))),
    ("matmul out misaligned", lambda: _llm.matmul(mis(2), F(3), F(6))),
    ("matmul x misaligned", lambda: _llm.matmul(F(2), mis(3), F(6))),
    ("matmul w misaligned", lambda: _llm.matmul(F(2), F(3), mis(6))),
    ("matmul out bytes", lambda: _llm.matmul(ro(2), F(3), F(6))),
    ("matmul out ro memoryview", lambda: _llm.matmul(rov(2), F(3), F(6))),
    ("matmul out None", lambda: _llm.matmul(None, F(3), F(6))),
    ("matmul x int", lambda: _llm.matmul(F(2), 3, F(6))),
    ("matmul w list", lambda: _llm.matmul(F(2), F(3), [0.0] * 6)),
    ("matmul 2 args", lambda: _llm.matmul(F(2), F(3))),
    # quantize(xq, xs, x, gs)
    ("quantize gs 0", lambda: _llm.quantize(bytearray(6), F(6), F(6), 0)),
    ("quantize gs negative", lambda: _llm.quantize(bytearray(6), F(6), F(6), -2)),
    ("quantize gs not dividing", lambda: _llm.quantize(bytearray(6), F(2), F(6), 4)),
    ("quantize gs > n", lambda: _llm.quantize(bytearray(6), F(1), F(6), 12)),
    ("quantize gs huge", lambda: _llm.quantize(bytearray(6), F(1), F(6), 2 ** 40)),
    ("quantize xq short", lambda: _llm.quantize(bytearray(5), F(2), F(6), 3)),
    ("quantize xs short", lambda: _llm.quantize(bytearray(6), F(1), F(6), 3)),
    ("quantize x empty", lambda: _llm.quantize(bytearray(6), F(2), F(0), 3)),
    ("quantize xs misaligned", lambda: _llm.quantize(bytearray(6), mis(2), F(6), 3)),
    ("quantize x misaligned", lambda: _llm.quantize(bytearray(6), F(2), mis(6), 3)),
    ("quantize xq bytes", lambda: _llm.quantize(bytes(6), F(2), F(6), 3)),
    ("quantize xs bytes", lambda: _llm.quantize(bytearray(6), ro(2), F(6), 3)),
    ("quantize gs str", lambda: _llm.quantize(bytearray(6), F(2), F(6), "3")),
    # matmul_q8(out, xq, xs, w, ws, gs); ws holds halves
    ("matmul_q8 gs not dividing", lambda: _llm.matmul_q8(F(2), bytearray(6), F(2), bytearray(12), H(4), 4)),
    ("matmul_q8 gs 0", lambda: _llm.matmul_q8(F(2), bytearray(6), F(2), bytearray(12), H(4), 0)),
    ("matmul_q8 w short", lambda: _llm.matmul_q8(F(2), bytearray(6), F(2), bytearray(11), H(4), 3)),
    ("matmul_q8 w long", lambda: _llm.matmul_q8(F(2), bytearray(6), F(2), bytearray(13), H(4), 3)),
    ("matmul_q8 ws short", lambda: _llm.matmul_q8(F(2), bytearray(6), F(2), bytearray(12), H(3), 3)),
    ("matmul_q8 xs short", lambda: _llm.matmul_q8(F(2), bytearray(6), F(1), bytearray(12), H(4), 3)),
    ("matmul_q8 out empty", lambda: _llm.matmul_q8(F(0), bytearray(6), F(2), bytearray(0), H(0), 3)),
    ("matmul_q8 xq empty", lambda: _llm.matmul_q8(F(2), bytearray(0), F(0), bytearray(0), H(0), 3)),
    ("matmul_q8 out bytes", lambda: _llm.matmul_q8(ro(2), bytearray(6), F(2), bytearray(12), H(4), 3)),
    ("matmul_q8 out misaligned", lambda: _llm.matmul_q8(mis(2), bytearray(6), F(2), bytearray(12), H(4), 3)),
    ("matmul_q8 xs misaligned", lambda: _llm.matmul_q8(F(2), bytearray(6), mis(2), bytearray(12), H(4), 3)),
    ("matmul_q8 ws misaligned", lambda: _llm.matmul_q8(F(2), bytearray(6), F(2), bytearray(12), memoryview(H(5))[1:], 3)),
    ("matmul_q8 w None", lambda: _llm.matmul_q8(F(2), bytearray(6), F(2), None, H(4), 3)),
    ("matmul_q8 ws float", lambda: _llm.matmul_q8(F(2), bytearray(6), F(2), bytearray(12), 1.0, 3)),
    # rmsnorm(out, x, weight)
    ("rmsnorm out short", lambda: _llm.rmsnorm(F(2), F(3), F(3))),
    ("rmsnorm weight short", lambda: _llm.rmsnorm(F(3), F(3), F(2))),
    ("rmsnorm weight long", lambda: _llm.rmsnorm(F(3), F(3), F(4))),
    ("rmsnorm empty", lambda: _llm.rmsnorm(F(0), F(0), F(0))),
    ("rmsnorm out bytes", lambda: _llm.rmsnorm(ro(3), F(3), F(3))),
    ("rmsnorm weight misaligned", lambda: _llm.rmsnorm(F(3), F(3), mis(3))),
    ("rmsnorm x float", lambda: _llm.rmsnorm(F(3), 1.5, F(3))),
    # softmax(x[, n])
    ("softmax empty", lambda: _llm.softmax(F(0))),
    ("softmax n 0", lambda: _llm.softmax(F(3), 0)),
    ("softmax n negative", lambda: _llm.softmax(F(3), -1)),
    ("softmax n > len", lambda: _llm.softmax(F(3), 4)),
    ("softmax n 2**31", lambda: _llm.softmax(F(3), 2 ** 31)),
    ("softmax n 2**40", lambda: _llm.softmax(F(3), 2 ** 40)),
    ("softmax bytes", lambda: _llm.softmax(ro(3))),
    ("softmax ro memoryview", lambda: _llm.softmax(rov(3))),
    ("softmax misaligned", lambda: _llm.softmax(mis(3))),
    ("softmax None", lambda: _llm.softmax(None)),
    ("softmax n str", lambda: _llm.softmax(F(3), "2")),
    # argmax(x)
    ("argmax empty", lambda: _llm.argmax(F(0))),
    ("argmax empty bytes", lambda: _llm.argmax(b"")),
    ("argmax misaligned", lambda: _llm.argmax(mis(3))),
    ("argmax int", lambda: _llm.argmax(7)),
    # swiglu(hb, hb2)
    ("swiglu hb2 short", lambda: _llm.swiglu(F(3), F(2))),
    ("swiglu hb2 long", lambda: _llm.swiglu(F(3), F(4))),
    ("swiglu hb bytes", lambda: _llm.swiglu(ro(3), F(3))),
    ("swiglu misaligned", lambda: _llm.swiglu(F(3), mis(3))),
    ("swiglu None", lambda: _llm.swiglu(F(3), None)),
    # rope(vec, head_size, pos)
    ("rope head_size odd", lambda: _llm.rope(F(6), 3, 0)),
    ("rope head_size 1", lambda: _llm.rope(F(2), 1, 0)),
    ("rope head_size 0", lambda: _llm.rope(F(4), 0, 0)),
    ("rope head_size negative", lambda: _llm.rope(F(4), -2, 0)),
    ("rope head_size 258", lambda: _llm.rope(F(258), 258, 0)),
    ("rope head_size 2**32", lambda: _llm.rope(F(4), 2 ** 32, 0)),
    ("rope len not multiple", lambda: _llm.rope(F(6), 4, 0)),
    ("rope len < head_size", lambda: _llm.rope(F(2), 4, 0)),
    ("rope empty", lambda: _llm.rope(F(0), 2, 0)),
    ("rope pos negative", lambda: _llm.rope(F(4), 2, -1)),
    ("rope pos 2**31", lambda: _llm.rope(F(4), 2, 2 ** 31)),
    ("rope pos 2**40", lambda: _llm.rope(F(4), 2, 2 ** 40)),
    ("rope bytes", lambda: _llm.rope(ro(4), 2, 0)),
    ("rope misaligned", lambda: _llm.rope(mis(4), 2, 0)),
    ("rope pos float", lambda: _llm.rope(F(4), 2, 1.5)),
    # attention(out, att, q, k, v, pos, stride)
    ("attention q short", lambda: _llm.attention(F(4), F(1), F(3), F(4), F(4), 0, 4)),
    ("attention q long", lambda: _llm.attention(F(4), F(1), F(5), F(4), F(4), 0, 4)),
    ("attention out empty", lambda: _llm.attention(F(0), F(1), F(0), F(4), F(4), 0, 4)),
    ("attention att short", lambda: _llm.attention(F(4), F(2), F(4), F(12), F(12), 2, 4)),
    ("attention att empty", lambda: _llm.attention(F(4), F(0), F(4), F(4), F(4), 0, 4)),
    ("attention k short", lambda: _llm.attention(F(4), F(3), F(4), F(11), F(12), 2, 4)),
    ("attention v short", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(11), 2, 4)),
    ("attention stride < head", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(12), 2, 3)),
    ("attention stride 0", lambda: _llm.attention(F(4), F(1), F(4), F(4), F(4), 0, 0)),
    ("attention stride negative", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(12), 2, -4)),
    ("attention stride 2**31", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(12), 2, 2 ** 31)),
    ("attention pos negative", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(12), -1, 4)),
    ("attention pos 2**31-1", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(12), 2 ** 31 - 1, 4)),
    ("attention pos 2**40", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(12), 2 ** 40, 4)),
    ("attention pos*stride overflows", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(12), 2 ** 30, 2 ** 30)),
    ("attention out bytes", lambda: _llm.attention(ro(4), F(3), F(4), F(12), F(12), 2, 4)),
    ("attention att bytes", lambda: _llm.attention(F(4), ro(3), F(4), F(12), F(12), 2, 4)),
    ("attention k misaligned", lambda: _llm.attention(F(4), F(3), F(4), mis(12), F(12), 2, 4)),
    ("attention v None", lambda: _llm.attention(F(4), F(3), F(4), F(12), None, 2, 4)),
    ("attention 6 args", lambda: _llm.attention(F(4), F(3), F(4), F(12), F(12), 2)),
    # random_u32(rng)
    ("random_u32 7 bytes", lambda: _llm.random_u32(bytearray(7))),
    ("random_u32 9 bytes", lambda: _llm.random_u32(bytearray(9))),
    ("random_u32 16 bytes", lambda: _llm.random_u32(bytearray(16))),
    ("random_u32 misaligned", lambda: _llm.random_u32(memoryview(bytearray(16))[4:12])),
    ("random_u32 bytes", lambda: _llm.random_u32(bytes(8))),
    ("random_u32 int", lambda: _llm.random_u32(42)),
    # sample(logits, temperature, top_p, rng, scratch)
    ("sample empty", lambda: _llm.sample(F(0), 1.0, 0.9, rng, S(1))),
    ("sample temperature negative", lambda: _llm.sample(F(4), -0.5, 0.9, rng, S(4))),
    ("sample temperature nan", lambda: _llm.sample(F(4), float("nan"), 0.9, rng, S(4))),
    ("sample top_p nan", lambda: _llm.sample(F(4), 1.0, float("nan"), rng, S(4))),
    ("sample temperature str", lambda: _llm.sample(F(4), "1", 0.9, rng, S(4))),
    ("sample scratch short", lambda: _llm.sample(F(4), 1.0, 0.9, rng, S(3))),
    ("sample scratch misaligned", lambda: _llm.sample(F(4), 1.0, 0.9, rng, mis(4))),
    ("sample scratch bytes", lambda: _llm.sample(F(4), 1.0, 0.9, rng, ro(4))),
    ("sample rng short", lambda: _llm.sample(F(4), 1.0, 0.9, bytearray(4), S(4))),
    ("sample rng bytes", lambda: _llm.sample(F(4), 1.0, 0.9, bytes(8), S(4))),
    ("sample logits bytes", lambda: _llm.sample(ro(4), 1.0, 0.9, rng, S(4))),
    ("sample logits misaligned", lambda: _llm.sample(mis(4), 1.0, 0.9, rng, S(4))),
]
out = []
for name, fn in cases:
    out.append([name] + catch(fn))
emit("bad", out)
# the interpreter still works, and so do the kernels
x = array("f", [1.0, 2.0, 3.0])
o = array("f", [0.0])
_llm.matmul(o, x, array("f", [1.0, 1.0, 1.0]))
emit("after", [o[0], _llm.argmax(x)])
print("alive")
'''

# Arguments too big for a machine word: OverflowError is a clean exception too.
BIGINT_OK = {"OverflowError"}


def test_bad_arguments_raise_and_interpreter_survives(firmware):
    res = mpy.snippet(MAKE + BAD_CALLS)
    assert res.proc.returncode == 0
    assert res.out.strip().endswith("alive")
    assert res["after"] == [6.0, 2]
    bad = res["bad"]
    assert len(bad) > 100
    problems = []
    for name, kind, msg in bad:
        allowed = {"ValueError", "TypeError"}
        if "2**40" in name or "2**32" in name:
            allowed |= BIGINT_OK
        if kind not in allowed:
            problems.append("%s: %s %s" % (name, kind, msg))
    assert not problems, "calls that did not raise ValueError/TypeError:\n" + "\n".join(problems)


def test_bad_argument_messages_name_the_problem(firmware):
    res = mpy.snippet(MAKE + BAD_CALLS)
    msgs = {name: (kind, msg) for name, kind, msg in res["bad"]}
    assert "aligned" in msgs["matmul out misaligned"][1]
    assert "aligned" in msgs["random_u32 misaligned"][1]
    assert "aligned" in msgs["matmul_q8 ws misaligned"][1]
    assert "group_size" in msgs["quantize gs not dividing"][1]
    assert "head_size" in msgs["rope head_size odd"][1]
    assert "pos" in msgs["rope pos negative"][1]
    assert "att" in msgs["attention att short"][1]
    assert msgs["matmul out bytes"][0] == "TypeError"
    assert msgs["softmax ro memoryview"][0] == "TypeError"


def test_swiglu_empty_raises(firmware):
    res = mpy.snippet(MAKE + r'''
emit("r", catch(_llm.swiglu, bytearray(0), bytearray(0)))
''')
    assert res["r"][0] == "ValueError"


def test_reference_sinf_cosf_match_the_c_library():
    # The rotation angles stories260K uses (head size 8, positions < 512).
    hs = 8
    freq = np.array([f32(1.0) / R.powf(10000.0, f32(2 * k) / f32(hs)) for k in range(hs // 2)], np.float32)
    vals = (np.arange(512, dtype=np.float32)[:, None] * freq[None, :]).astype(np.float32).ravel()
    mpy.assert_bits_equal(REF_COSF(vals), mpy.libm_cosf(vals), "cosf")
    mpy.assert_bits_equal(REF_SINF(vals), mpy.libm_sinf(vals), "sinf")


def test_huge_head_size_and_pos_with_valid_buffers(firmware):
    # The largest allowed head size (256, the rotation tables are on the C stack) and a pos
    # near 2**31 work and give the reference numbers.
    rng = np.random.default_rng(14)
    v = rand(rng, 512)
    res = run_cases(r'''
v = bytearray(load("v"))
_llm.rope(v, 256, 2 ** 31 - 1)
emit("v", v)
''', {"v": v.tobytes()})
    mpy.assert_bits_equal(mpy.f32(res["v"]), np_rope(v, 256, 2 ** 31 - 1), "rope 256")


def test_attention_short_kv_message_gives_the_needed_count(firmware):
    res = mpy.snippet(r'''
import _llm
F = lambda n: bytearray(4 * n)
emit("k", catch(_llm.attention, F(4), F(3), F(4), F(11), F(12), 2, 4))
emit("v", catch(_llm.attention, F(4), F(3), F(4), F(12), F(11), 2, 4))
''')
    for name in ("k", "v"):
        kind, msg = res[name]
        assert kind == "ValueError" and "need 12 items" in msg, msg
