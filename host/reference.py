"""numpy float32 reference of llama2.c's run.c (forward pass, sampler, tokenizer, generate).

Every float operation mirrors run.c in float32 and in the same order:

- sums (matmul rows, rmsnorm sum of squares, attention dot products, softmax sum, the
  attention-weighted sum of values) are sequential float32 accumulations starting at 0.0f,
  done with np.cumsum(..., dtype=float32) whose add.accumulate is sequential by definition
  (np.dot / np.sum would use blocked or pairwise orders);
- products are rounded to float32 before being added (C without FMA contraction);
- expf/sinf/cosf/powf: numpy's own float32 exp/sin/cos are NOT bit-identical to glibc
  (numpy's SIMD float32 exp differs from glibc expf in ~40% of inputs), so these are
  computed in float64 and rounded to float32, and the rare inputs whose exact result lies
  near a float32 rounding midpoint are recomputed by calling the C library's expf/sinf/cosf
  through ctypes when it is available; on this glibc system that gives bit-identical results.

CLI (like run.c, generate mode only):
    python3 -m host.reference CHECKPOINT -z TOKENIZER -t T -p P -s S -n N -i PROMPT
"""

import ctypes
import ctypes.util
import re
import sys
import time

import numpy as np

from . import llama2

__all__ = [
    "expf", "sinf", "cosf", "powf", "matmul", "rmsnorm", "softmax",
    "Transformer", "Tokenizer", "Sampler",
    "random_u32", "random_f32", "sample_argmax", "sample_mult", "sample_topp",
    "safe_piece", "generate", "generate_tokens", "main",
]

f32 = np.float32
_MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# libm mirrors

def _load_libm():
    try:
        name = ctypes.util.find_library("m") or "libm.so.6"
        lib = ctypes.CDLL(name)
        for fn in ("expf", "sinf", "cosf"):
            getattr(lib, fn).restype = ctypes.c_float
            getattr(lib, fn).argtypes = [ctypes.c_float]
        lib.powf.restype = ctypes.c_float
        lib.powf.argtypes = [ctypes.c_float, ctypes.c_float]
        if lib.expf(0.0) != 1.0 or lib.powf(2.0, 3.0) != 8.0:
            return None
        return lib
    except (OSError, AttributeError):
        return None


_LIBM = _load_libm()
HAVE_LIBM = _LIBM is not None


def _round_f32_with_fixup(x, y64, cfunc):
    """Round float64 results y64 (of f(x)) to float32; inputs near a rounding midpoint go to cfunc."""
    with np.errstate(over="ignore"):
        r = y64.astype(np.float32)
    if cfunc is not None and r.size:
        with np.errstate(all="ignore"):
            r64 = r.astype(np.float64)
            dist = np.abs(y64 - r64) / np.spacing(np.abs(r)).astype(np.float64)
            bits = r.view(np.uint32)
            amb = (dist > 0.49) | ((bits & 0x7FFFFF) == 0) | (np.isinf(r) & np.isfinite(x))
        idx = np.flatnonzero(amb)
        if idx.size:
            rf, xf = r.reshape(-1), x.reshape(-1)
            for i in idx:
                rf[i] = cfunc(float(xf[i]))
    return r


def expf(x):
    """C expf on a float32 array (returns a float32 array of the same shape)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    with np.errstate(all="ignore"):
        y = np.exp(x.astype(np.float64))
    return _round_f32_with_fixup(x, y, _LIBM.expf if _LIBM else None)


def _libm_each(x, cfunc, fallback):
    # glibc's sinf/cosf are not correctly rounded (about 1% of inputs are
    # 1 ulp off the rounded float64 result), so call them for every element.
    x = np.ascontiguousarray(x, dtype=np.float32)
    if cfunc is None:
        return fallback(x.astype(np.float64)).astype(np.float32)
    return np.array([cfunc(float(v)) for v in x.reshape(-1)], dtype=np.float32).reshape(x.shape)


def sinf(x):
    return _libm_each(x, _LIBM.sinf if _LIBM else None, np.sin)


def cosf(x):
    return _libm_each(x, _LIBM.cosf if _LIBM else None, np.cos)


def powf(x, y):
    """C powf on float32 scalars."""
    x, y = f32(x), f32(y)
    if _LIBM is not None:
        return f32(_LIBM.powf(float(x), float(y)))
    return f32(float(x) ** float(y))


# ---------------------------------------------------------------------------------------------
# building blocks (float32, C order of operations)

def matmul(w, x):
    """run.c matmul: out[i] = sum_j w[i][j] * x[j], summed sequentially in float32.

    A quantised matrix (host.int4.QuantMatrix) does its own arithmetic: the firmware's.
    """
    if hasattr(w, "matmul"):
        return w.matmul(x)
    return np.cumsum(w * x, axis=-1, dtype=np.float32)[..., -1]


def rmsnorm(x, weight):
    """run.c rmsnorm: ss = sum x*x (sequential); ss /= n; ss += 1e-5f; ss = 1/sqrtf(ss); w*(ss*x)."""
    ss = np.cumsum(x * x, dtype=np.float32)[-1]
    ss = ss / f32(x.shape[-1])
    ss = ss + f32(1e-5)
    ss = f32(1.0) / np.sqrt(ss)
    return weight * (ss * x)


def softmax(x):
    """run.c softmax along the last axis: max subtraction, expf, sequential sum, divide."""
    x = np.asarray(x, dtype=np.float32)
    m = np.max(x, axis=-1, keepdims=True)
    e = expf(x - m)
    s = np.cumsum(e, axis=-1, dtype=np.float32)[..., -1:]
    return e / s


# ---------------------------------------------------------------------------------------------
# transformer

class Transformer:
    """run.c's Transformer: forward(token, pos) -> float32 logits (a fresh array).

    ``config``/``weights`` as returned by host.llama2.read_checkpoint. Keeps a KV cache, so
    positions must be fed in order (pos 0, 1, 2, ...) like run.c does; feeding pos p again
    overwrites the cache row p (positions > p keep stale data but are never read for p).
    """

    def __init__(self, config, weights):
        self.config = c = llama2.validate_config(config)
        self.dim, self.hidden_dim = c["dim"], c["hidden_dim"]
        self.n_layers, self.n_heads, self.n_kv_heads = c["n_layers"], c["n_heads"], c["n_kv_heads"]
        self.vocab_size, self.seq_len = c["vocab_size"], c["seq_len"]
        self.head_size, self.kv_dim, self.kv_mul = c["head_size"], c["kv_dim"], c["kv_mul"]
        shapes = dict(llama2.weight_shapes(dict(c, shared_classifier=False)))
        self.w = {}
        for name in llama2.WEIGHT_NAMES + ("wcls",):
            src = weights["token_embedding_table"] if name == "wcls" and "wcls" not in weights else weights[name]
            arr = np.ascontiguousarray(src, dtype=np.float32)
            if arr.shape != shapes[name]:
                raise ValueError("weights[%r] has shape %r, expected %r" % (name, arr.shape, shapes[name]))
            self.w[name] = arr
        self.key_cache = np.zeros((self.n_layers, self.seq_len, self.kv_dim), np.float32)
        self.value_cache = np.zeros_like(self.key_cache)
        # per rotated pair i (i = 0, 2, 4, ... < dim): freq = 1.0f / powf(10000.0f, head_dim / (float)head_size)
        head_dim = np.arange(0, self.dim, 2) % self.head_size
        self._freq = np.array([f32(1.0) / powf(10000.0, f32(hd) / f32(self.head_size)) for hd in head_dim],
                              np.float32)
        self._rope = {}
        self._head_map = np.arange(self.n_heads) // self.kv_mul
        self._sqrt_hs = np.sqrt(f32(self.head_size))  # sqrtf(head_size); scores are divided by it

    @classmethod
    def from_file(cls, path):
        return cls(*llama2.read_checkpoint(path))

    def rope(self, pos):
        """(cos, sin) float32 arrays, one per pair i (dim/2), for position pos."""
        cs = self._rope.get(pos)
        if cs is None:
            val = f32(pos) * self._freq  # float val = pos * freq;
            cs = self._rope[pos] = (cosf(val), sinf(val))
        return cs

    def forward(self, token, pos):
        token, pos = int(token), int(pos)
        if not 0 <= token < self.vocab_size:
            raise ValueError("token %d out of range [0, %d)" % (token, self.vocab_size))
        if not 0 <= pos < self.seq_len:
            raise ValueError("pos %d out of range [0, %d)" % (pos, self.seq_len))
        w = self.w
        H, hs, kvd = self.n_heads, self.head_size, self.kv_dim
        T = pos + 1
        fcr, fci = self.rope(pos)
        npk = kvd // 2  # pairs also rotated in k
        x = w["token_embedding_table"][token].copy()
        for l in range(self.n_layers):
            xb = rmsnorm(x, w["rms_att_weight"][l])
            q = matmul(w["wq"][l], xb)
            k = matmul(w["wk"][l], xb)
            v = matmul(w["wv"][l], xb)
            # RoPE: vec[i] = v0*fcr - v1*fci; vec[i+1] = v0*fci + v1*fcr
            q0, q1 = q[0::2].copy(), q[1::2].copy()
            q[0::2] = q0 * fcr - q1 * fci
            q[1::2] = q0 * fci + q1 * fcr
            k0, k1 = k[0::2].copy(), k[1::2].copy()
            k[0::2] = k0 * fcr[:npk] - k1 * fci[:npk]
            k[1::2] = k0 * fci[:npk] + k1 * fcr[:npk]
            self.key_cache[l, pos] = k
            self.value_cache[l, pos] = v
            # attention, all heads at once; head h uses kv head h // kv_mul
            kh = self.key_cache[l, :T].reshape(T, self.n_kv_heads, hs)[:, self._head_map, :]  # (T, H, hs)
            vh = self.value_cache[l, :T].reshape(T, self.n_kv_heads, hs)[:, self._head_map, :]
            qh = q.reshape(H, hs)
            scores = np.cumsum(qh[None] * kh, axis=2, dtype=np.float32)[:, :, -1]  # (T, H)
            scores = scores / self._sqrt_hs
            att = softmax(scores.T)  # (H, T)
            xb = np.cumsum(att.T[:, :, None] * vh, axis=0, dtype=np.float32)[-1].reshape(-1)
            x = x + matmul(w["wo"][l], xb)
            # FFN: w2(silu(w1 x) * w3 x)
            xb = rmsnorm(x, w["rms_ffn_weight"][l])
            hb = matmul(w["w1"][l], xb)
            hb2 = matmul(w["w3"][l], xb)
            hb = hb * (f32(1.0) / (f32(1.0) + expf(-hb)))
            hb = hb * hb2
            x = x + matmul(w["w2"][l], hb)
        x = rmsnorm(x, w["rms_final_weight"])
        return matmul(w["wcls"], x)


# ---------------------------------------------------------------------------------------------
# sampler

def random_u32(state):
    """llama2.c xorshift: returns (u32, new_state). state is a Python int (uint64)."""
    state &= _MASK64
    state ^= state >> 12
    state ^= (state << 25) & _MASK64
    state ^= state >> 27
    return ((state * 0x2545F4914F6CDD1D) & _MASK64) >> 32, state


def random_f32(state):
    """llama2.c random_f32: returns (np.float32 in [0, 1), new_state)."""
    u, state = random_u32(state)
    return f32(u >> 8) / f32(16777216.0), state


def sample_argmax(probabilities):
    """Index of the first maximum (run.c uses a strict '>' scan)."""
    return int(np.argmax(probabilities))


def sample_mult(probabilities, coin):
    """First i with coin < cdf[i] (cdf summed sequentially in float32); n-1 if none."""
    cdf = np.cumsum(np.asarray(probabilities, np.float32), dtype=np.float32)
    hit = np.flatnonzero(f32(coin) < cdf)
    return int(hit[0]) if hit.size else len(cdf) - 1


def sample_topp(probabilities, topp, coin):
    """run.c sample_topp (nucleus sampling) in float32."""
    probs = np.asarray(probabilities, np.float32)
    n = probs.shape[0]
    topp, coin = f32(topp), f32(coin)
    with np.errstate(divide="ignore", invalid="ignore"):
        cutoff = (f32(1.0) - topp) / f32(n - 1)
    idx = np.flatnonzero(probs >= cutoff)
    if idx.size == 0:
        # run.c would read probindex[-1]: undefined behaviour
        raise ValueError("sample_topp: no probability >= cutoff (undefined behaviour in run.c)")
    p = probs[idx]
    order = np.argsort(-p, kind="stable")  # descending; ties keep ascending index
    idx, p = idx[order], p[order]
    cum = np.cumsum(p, dtype=np.float32)
    over = np.flatnonzero(cum > topp)
    last = int(over[0]) if over.size else idx.size - 1
    r = coin * cum[last]
    hit = np.flatnonzero(r < cum[:last + 1])  # the cdf walk repeats the same sequential sums
    return int(idx[hit[0]]) if hit.size else int(idx[last])


class Sampler:
    """run.c's Sampler. temperature/topp are stored as float32 like the C struct."""

    def __init__(self, vocab_size, temperature, topp, rng_seed):
        self.vocab_size = int(vocab_size)
        self.temperature = f32(temperature)
        self.topp = f32(topp)
        self.rng_state = int(rng_seed) & _MASK64

    def random_f32(self):
        coin, self.rng_state = random_f32(self.rng_state)
        return coin

    def sample(self, logits):
        logits = np.asarray(logits, np.float32)[: self.vocab_size]
        if self.temperature == f32(0.0):
            return sample_argmax(logits)
        probs = softmax(logits / self.temperature)
        coin = self.random_f32()
        if self.topp <= 0 or self.topp >= 1:
            return sample_mult(probs, coin)
        return sample_topp(probs, self.topp, coin)


# ---------------------------------------------------------------------------------------------
# tokenizer

_BYTE_PIECE = re.compile(rb"<0x[ \t\n\v\f\r]*([0-9A-Fa-f]{1,2})")


def _cstr(b):
    """What C sees of a byte string: everything before the first NUL."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


class Tokenizer:
    """run.c's Tokenizer (BPE encode with byte fallback, decode)."""

    BOS, EOS = 1, 2

    def __init__(self, pieces, scores, max_token_length=None):
        self.pieces = [bytes(p) for p in pieces]
        self.scores = [float(f32(s)) for s in scores]
        if len(self.pieces) != len(self.scores):
            raise ValueError("pieces and scores differ in length")
        self.vocab_size = len(self.pieces)
        self.max_token_length = (max(len(p) for p in self.pieces) if max_token_length is None
                                 else int(max_token_length))
        self._c = [_cstr(p) for p in self.pieces]
        # run.c looks pieces up with bsearch over the strcmp-sorted vocab; with duplicate
        # strings which id it finds is unspecified -- here the lowest id wins.
        self._lookup = {}
        for i, p in enumerate(self._c):
            self._lookup.setdefault(p, i)

    @classmethod
    def from_file(cls, path, vocab_size=None):
        max_len, pieces, scores = llama2.read_tokenizer(path, vocab_size)
        return cls(pieces, scores, max_len)

    def lookup(self, piece):
        """Token id of an exact piece, or -1 (run.c str_lookup)."""
        return self._lookup.get(_cstr(bytes(piece)), -1)

    def encode(self, text, bos=True, eos=False):
        """run.c encode(): list of token ids. ``text`` is bytes (str is UTF-8 encoded)."""
        if isinstance(text, str):
            text = text.encode("utf-8")
        text = _cstr(bytes(text))
        tokens = []
        if bos:
            tokens.append(self.BOS)
        if text:
            dummy = self.lookup(b" ")
            if dummy < 0:
                raise ValueError("vocabulary has no ' ' piece (run.c would append -1)")
            tokens.append(dummy)
        # UTF-8 codepoints: a byte plus up to 3 following continuation bytes
        buf = bytearray()
        n = len(text)
        for i in range(n):
            c = text[i]
            if (c & 0xC0) != 0x80:
                buf = bytearray()
            buf.append(c)
            nxt = text[i + 1] if i + 1 < n else 0
            if (nxt & 0xC0) == 0x80 and len(buf) < 4:
                continue
            tid = self._lookup.get(bytes(buf), -1)
            if tid != -1:
                tokens.append(tid)
            else:
                tokens.extend(b + 3 for b in buf)  # byte fallback: <0x00> is id 3
            buf = bytearray()
        # BPE merges: best (strictly highest) score first, leftmost pair on ties
        pieces, scores, lookup = self._c, self.scores, self._lookup
        floor = float(f32(-1e10))
        while True:
            best_score, best_id, best_idx = floor, -1, -1
            for i in range(len(tokens) - 1):
                tid = lookup.get(pieces[tokens[i]] + pieces[tokens[i + 1]], -1)
                if tid != -1 and scores[tid] > best_score:
                    best_score, best_id, best_idx = scores[tid], tid, i
            if best_idx == -1:
                break
            tokens[best_idx] = best_id
            del tokens[best_idx + 1]
        if eos:
            tokens.append(self.EOS)
        return tokens

    def decode(self, prev_token, token):
        """run.c decode(): the bytes printed for ``token`` following ``prev_token``."""
        piece = self._c[token]
        if prev_token == self.BOS and piece[:1] == b" ":
            piece = piece[1:]
        # run.c: sscanf(piece, "<0x%02hhX>", &byte_val) == 1 -> the raw byte
        m = _BYTE_PIECE.match(piece)
        if m:
            return bytes([int(m.group(1), 16)])
        return piece


def safe_piece(piece):
    """run.c safe_printf(): what gets printed for a decoded piece.

    Empty -> nothing; a single byte that is neither isprint nor isspace (C locale) -> nothing;
    otherwise the piece up to its first NUL (printf "%s").
    """
    piece = _cstr(bytes(piece))
    if not piece:
        return b""
    if len(piece) == 1:
        b = piece[0]
        if not (0x20 <= b <= 0x7E or 0x09 <= b <= 0x0D):
            return b""
    return piece


# ---------------------------------------------------------------------------------------------
# generate

def _clamp_args(transformer, steps, temperature, topp):
    temperature, topp, steps = f32(temperature), f32(topp), int(steps)
    if temperature < 0.0:  # run.c main()
        temperature = f32(0.0)
    if topp < 0.0 or 1.0 < topp:
        topp = f32(0.9)
    if steps <= 0 or steps > transformer.seq_len:
        steps = transformer.seq_len
    return steps, temperature, topp


def generate_tokens(transformer, tokenizer, prompt, steps, temperature, topp, seed):
    """run.c generate() loop as a generator of (next_token, printed_bytes) per step.

    Stops after ``steps`` positions or when BOS (1) is produced (not yielded). The prompt
    tokens themselves are yielded too (forced, not sampled), exactly as run.c prints them.
    ``seed`` is used as the xorshift state as-is (run.c's main replaces 0 with time(NULL)).
    """
    steps, temperature, topp = _clamp_args(transformer, steps, temperature, topp)
    if isinstance(prompt, str):
        prompt = prompt.encode("utf-8")
    sampler = Sampler(transformer.vocab_size, temperature, topp, seed)
    prompt_tokens = tokenizer.encode(prompt or b"", bos=True, eos=False)
    token = prompt_tokens[0]
    pos = 0
    while pos < steps:
        logits = transformer.forward(token, pos)
        if pos < len(prompt_tokens) - 1:
            nxt = prompt_tokens[pos + 1]
        else:
            nxt = sampler.sample(logits)
        pos += 1
        if nxt == 1:
            break
        yield nxt, safe_piece(tokenizer.decode(token, nxt))
        token = nxt


def generate(transformer, tokenizer, prompt, steps, temperature, topp, seed):
    """Exactly what run.c prints on stdout in generate mode: prompt + continuation + b"\\n"."""
    out = bytearray()
    for _, piece in generate_tokens(transformer, tokenizer, prompt, steps, temperature, topp, seed):
        out += piece
    out += b"\n"
    return bytes(out)


def main(argv=None):
    import argparse
    import os

    ap = argparse.ArgumentParser(prog="python3 -m host.reference",
                                 description="numpy float32 reference of llama2.c run (generate mode)")
    ap.add_argument("checkpoint")
    ap.add_argument("-t", type=float, default=1.0, help="temperature (default 1.0)")
    ap.add_argument("-p", type=float, default=0.9, help="top-p (default 0.9)")
    ap.add_argument("-s", type=int, default=0, help="random seed (default/0: time(NULL))")
    ap.add_argument("-n", type=int, default=256, help="steps (default 256, 0 = seq_len)")
    ap.add_argument("-i", default=None, help="input prompt")
    ap.add_argument("-z", default="tokenizer.bin", help="tokenizer path")
    ap.add_argument("-m", default="generate", choices=["generate"], help="mode (only generate)")
    a = ap.parse_args(argv)

    seed = a.s & _MASK64  # run.c: unsigned long long rng_seed = atoi(...)
    if seed == 0:
        seed = int(time.time()) & 0xFFFFFFFF
    steps = max(a.n, 0)
    transformer = Transformer.from_file(a.checkpoint)
    tokenizer = Tokenizer.from_file(a.z, transformer.vocab_size)
    prompt = os.fsencode(a.i) if a.i is not None else b""
    out = sys.stdout.buffer
    start, n = None, 0
    for _, piece in generate_tokens(transformer, tokenizer, prompt, steps, a.t, a.p, seed):
        out.write(piece)
        out.flush()
        n += 1
        if start is None:
            start = time.time()
    out.write(b"\n")
    out.flush()
    if start is not None and n > 1:
        sys.stderr.write("achieved tok/s: %f\n" % ((n - 1) / max(time.time() - start, 1e-9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
