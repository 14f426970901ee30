"""4-bit weights: the quantiser the converter uses, and the quality study
that chose it (docs/int4.md).

Format (docs/format.md, type 2): each row padded with zeros to a multiple of
the group size; per group one IEEE half scale; codes q in [-8, 7] stored as
the nibble q + 8, two per byte, the even column in the low nibble.  A weight
is q * scale.

The scale of a group is searched, not just max|w| / 7: among candidate
scales max|w| / d (d from 6 to 9, see SCALE_DIVISORS), the one whose codes
give the least error, the error weighted per column by the mean square of
the activations that multiply it (collected from the fp32 model on the
evaluation corpus) when those statistics are given, else unweighted.

The converter's default for --weights int4 (docs/int4.md) is mixed: the
matrices in INT8_TENSORS stay int8 (groups as the int8 converter picks
them), every other matrix and the classifier are int4 in groups of 32,
quantised by GPTQ in activation order (GPTQ_ACT_ORDER, GPTQ_DAMP) against
CALIBRATION_STORIES stories sampled from the fp32 model.

    python3 -m host int4-study --model stories15M.bin --tokenizer tokenizer.bin
"""
import argparse
import json
import sys
import time

import numpy as np

from host import llama2
from host.fileformat import SIMD_BYTES, padded_cols

F16_MAX = 65504.0
# Candidate divisors of max|w| for a group's scale; 7 is plain rounding
# with symmetric codes, 8 uses the code -8 for the largest negative weight.
SCALE_DIVISORS = tuple(np.round(np.arange(6.0, 9.0001, 0.125), 4))

# The converter's int4 default, chosen by the study (docs/int4.md): the layer matrices kept in
# int8 (the most sensitive per byte: keeping wv and w2 in int8 takes stories15M from +5.5% to
# +3.3% perplexity for 0.86 MB), and GPTQ's settings.  `convert --pure-int4` makes every matrix int4.
INT8_TENSORS = ("wv", "w2")
INT4_GROUP = 32
GPTQ_ACT_ORDER = True  # columns by decreasing E[x_j^2]; the groups stay the stored runs of 32
GPTQ_DAMP = 0.1  # added to E[x x^T]'s diagonal, times its mean
# GPTQ's calibration corpus: stories sampled from the fp32 model at temperature 1, seeds
# CALIBRATION_SEED.., at most CALIBRATION_LENGTH tokens each (the study evaluates on seeds 1..N).
CALIBRATION_STORIES = 64
CALIBRATION_LENGTH = 256  # tokens per story at most (the study's --length default)
CALIBRATION_SEED = 1001


def group_size_ok(cols, gs):
    """As int8: the group divides the row, or is a multiple of 16 within the row rounded up to 16;
    and even, so that no byte holds two groups."""
    if gs <= 0 or gs % 2:
        return False
    if cols % gs == 0:
        return True
    return gs % SIMD_BYTES == 0 and gs <= padded_cols(cols, SIMD_BYTES)


def _groups(w, gs):
    rows, cols = w.shape
    padded = padded_cols(cols, gs)
    wp = np.zeros((rows, padded), dtype=np.float32)
    wp[:, :cols] = w
    return wp.reshape(rows, padded // gs, gs)


def quantize(w, gs, importance=None, search=True):
    """(codes int8 [rows][padded] in [-8, 7], half scales [rows][padded / gs]).

    importance: per column weights of the squared error (mean x_j^2 of the
    activations), or None for plain squared error; search False: max|w| / 7.
    """
    w = np.asarray(w, dtype=np.float32)
    rows, cols = w.shape
    if not group_size_ok(cols, gs):
        raise ValueError("int4 group size %d does not fit rows of %d (an even size that divides the row, or a"
                         " multiple of %d at most the row rounded up to %d)" % (gs, cols, SIMD_BYTES, SIMD_BYTES))
    g = _groups(w, gs)
    amax = np.abs(g).max(axis=2)
    if not np.all(np.isfinite(amax)):
        raise ValueError("weights contain NaN or infinity")
    if amax.max(initial=0.0) / 6.0 > F16_MAX:
        raise ValueError("weights too large for half-precision scales (max |w| %g)" % amax.max())
    if importance is None:
        imp = np.ones((1, 1, gs), np.float32)
    else:
        ip = np.zeros(padded_cols(cols, gs), np.float32)
        ip[:cols] = np.asarray(importance, np.float32)
        imp = ip.reshape(1, -1, gs)
    divisors = SCALE_DIVISORS if search else (7.0,)
    best_err = best_s = best_q = None
    for d in divisors:
        s = (amax / np.float32(d)).astype(np.float16).astype(np.float32)
        safe = np.where(s > 0, s, 1.0)[:, :, None]
        q = np.clip(np.rint(g / safe), -8, 7)
        err = (((q * s[:, :, None] - g) ** 2) * imp).sum(axis=2)
        if best_err is None:
            best_err, best_s, best_q = err, s, q
        else:
            better = err < best_err
            best_err = np.where(better, err, best_err)
            best_s = np.where(better, s, best_s)
            best_q = np.where(better[:, :, None], q, best_q)
    best_q = np.where(best_s[:, :, None] > 0, best_q, 0)
    return best_q.astype(np.int8).reshape(rows, -1), best_s.astype(np.float16)


def pack(codes):
    """Codes [rows][padded] in [-8, 7] -> bytes [rows][padded / 2]: nibble q + 8, even column low."""
    u = (np.asarray(codes, np.int16) + 8).astype(np.uint8)
    return (u[:, 0::2] | (u[:, 1::2] << 4)).astype(np.uint8)


def unpack(packed):
    """Bytes [rows][padded / 2] -> codes int8 [rows][padded]."""
    p = np.asarray(packed, np.uint8)
    out = np.empty((p.shape[0], p.shape[1] * 2), np.int8)
    out[:, 0::2] = (p & 15).astype(np.int8) - 8
    out[:, 1::2] = (p >> 4).astype(np.int8) - 8
    return out


def dequantize(codes, scales, cols=None):
    rows, padded = codes.shape
    gs = padded // scales.shape[1]
    w = (codes.reshape(rows, -1, gs).astype(np.float32) * scales.astype(np.float32)[:, :, None]).reshape(rows, padded)
    return w if cols is None else w[:, :cols]


# ---------------------------------------------------------------------------------------------
# the quality study: a fast float32 numpy llama (BLAS, not llama2.c's order of sums)

def _rmsnorm(x, w):
    ss = (x * x).mean(axis=-1, keepdims=True) + np.float32(1e-5)
    return w * (x / np.sqrt(ss))


def _quant_act(x, gs):
    """x [T][n] through int8 groups of gs, as llm_quantize_q8 (absmax / 127, round half away)."""
    T, n = x.shape
    g = _groups(x, gs)
    amax = np.abs(g).max(axis=2, keepdims=True)
    s = amax / np.float32(127.0)
    q = np.where(amax > 0, np.trunc(g / np.where(s > 0, s, 1) + np.copysign(0.5, g)), 0)
    return (q * s).reshape(T, -1)[:, :n]


class Model:
    """Teacher-forced and incremental forward over float weights, each matrix optionally with
    its activations quantised to int8 groups (act_gs[name] = group size)."""

    def __init__(self, config, weights):
        self.c = llama2.validate_config(config)
        self.w = {k: (v if k in ("rms_att_weight", "rms_ffn_weight", "rms_final_weight") else v)
                  for k, v in weights.items()}
        if "wcls" not in self.w:
            self.w["wcls"] = self.w["token_embedding_table"]
        hs = self.c["head_size"]
        i = np.arange(0, self.c["dim"], 2) % hs
        self.freq = (1.0 / (10000.0 ** (i / hs))).astype(np.float32)
        self.act_gs = {}
        self.stats = None

    def mat(self, name, l, x):
        w = self.w[name] if l is None else self.w[name][l]
        if self.stats is not None:
            x64 = x.astype(np.float64)
            h, n = self.stats.get((name, l), (0.0, 0))
            self.stats[(name, l)] = (h + x64.T @ x64, n + x.shape[0])
        gs = self.act_gs.get((name, l))
        if gs:
            x = _quant_act(x, gs)
        return x @ w.T

    def rope(self, v, pos):
        ang = pos[:, None].astype(np.float32) * self.freq[None, : v.shape[1] // 2]
        c, s = np.cos(ang), np.sin(ang)
        v0, v1 = v[:, 0::2], v[:, 1::2]
        out = np.empty_like(v)
        out[:, 0::2] = v0 * c - v1 * s
        out[:, 1::2] = v0 * s + v1 * c
        return out

    def forward_seq(self, tokens, cache=None, start=0):
        """Logits [T][vocab] for tokens at positions start.. (a cache dict carries K/V across calls)."""
        c, w = self.c, self.w
        T = len(tokens)
        H, KH, hs = c["n_heads"], c["n_kv_heads"], c["head_size"]
        pos = np.arange(start, start + T)
        x = w["token_embedding_table"][np.asarray(tokens)].astype(np.float32)
        for l in range(c["n_layers"]):
            xb = _rmsnorm(x, w["rms_att_weight"][l])
            q = self.rope(self.mat("wq", l, xb), pos)
            k = self.rope(self.mat("wk", l, xb), pos)
            v = self.mat("wv", l, xb)
            if cache is not None:
                if l in cache:
                    k = np.concatenate([cache[l][0], k])
                    v = np.concatenate([cache[l][1], v])
                cache[l] = (k, v)
            S = k.shape[0]
            qh = q.reshape(T, H, hs).transpose(1, 0, 2)
            kh = np.repeat(k.reshape(S, KH, hs).transpose(1, 0, 2), H // KH, axis=0)
            vh = np.repeat(v.reshape(S, KH, hs).transpose(1, 0, 2), H // KH, axis=0)
            sc = qh @ kh.transpose(0, 2, 1) / np.float32(np.sqrt(hs))
            mask = (np.arange(S)[None, :] > (S - T + np.arange(T))[:, None])
            sc = np.where(mask[None], -np.inf, sc)
            sc = np.exp(sc - sc.max(axis=-1, keepdims=True))
            sc /= sc.sum(axis=-1, keepdims=True)
            o = (sc @ vh).transpose(1, 0, 2).reshape(T, -1)
            x = x + self.mat("wo", l, o)
            xb = _rmsnorm(x, w["rms_ffn_weight"][l])
            h1 = self.mat("w1", l, xb)
            h3 = self.mat("w3", l, xb)
            hb = h1 / (1.0 + np.exp(-h1)) * h3
            x = x + self.mat("w2", l, hb.astype(np.float32))
        x = _rmsnorm(x, w["rms_final_weight"])
        return self.mat("wcls", None, x)


def _logsoftmax(z):
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def sample_corpus(model, n_stories, length, seed0=1):
    """Stories sampled from the model itself at temperature 1 (no top-p), seeds seed0.., each from BOS."""
    out = []
    for s in range(n_stories):
        rng = np.random.default_rng(seed0 + s)
        toks, cache = [1], {}
        logits = model.forward_seq([1], cache, 0)[-1]
        while len(toks) < length:
            p = np.exp(_logsoftmax(logits))
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            if nxt == 1:
                break
            toks.append(nxt)
            logits = model.forward_seq([nxt], cache, len(toks) - 1)[-1]
        out.append(toks)
    return out


def greedy(model, prompt_tokens, steps):
    cache = {}
    logits = model.forward_seq(prompt_tokens, cache, 0)[-1]
    toks = list(prompt_tokens)
    while len(toks) < steps:
        nxt = int(np.argmax(logits))
        toks.append(nxt)
        logits = model.forward_seq([nxt], cache, len(toks) - 1)[-1]
    return toks


MATRICES = ("wq", "wk", "wv", "wo", "w1", "w2", "w3")


def activation_stats(model, corpus):
    """E[x x^T] of the activations entering each matrix, over a corpus (fp32 model): its diagonal
    weighs the scale search, the whole matrix drives GPTQ."""
    model.stats = {}
    for toks in corpus:
        model.forward_seq(toks)
    st, model.stats = model.stats, None
    return {key: h / n for key, (h, n) in st.items()}


def quantize_gptq(w, gs, hess, damp=GPTQ_DAMP, act_order=GPTQ_ACT_ORDER):
    """GPTQ (Frantar et al. 2022) with symmetric int4 groups along the row: columns are quantised
    one at a time, each one's rounding error pushed onto the columns not yet quantised through the
    inverse of E[x x^T]; a group's scale is searched (weighted by the diagonal) when the quantiser
    reaches the group's first column.  In column order, or with act_order in order of decreasing
    E[x_j^2] (the groups stay the runs of gs columns the format stores).  Same output format as
    quantize()."""
    w = np.asarray(w, np.float64)
    rows, cols = w.shape
    if not group_size_ok(cols, gs):
        raise ValueError("int4 group size %d does not fit rows of %d" % (gs, cols))
    padded = padded_cols(cols, gs)
    W = np.zeros((rows, padded))
    W[:, :cols] = w
    H = np.eye(padded)
    H[:cols, :cols] = hess
    dead = np.diag(H)[:cols] <= 0
    H[np.arange(cols)[dead], np.arange(cols)[dead]] = 1.0
    H += damp * np.mean(np.diag(H)[:cols]) * np.eye(padded)
    order = np.argsort(-np.diag(H)[:cols], kind="stable") if act_order else np.arange(cols)
    order = np.concatenate([order, np.arange(cols, padded)])
    W = W[:, order]
    H = H[np.ix_(order, order)]
    Hinv = np.linalg.cholesky(np.linalg.inv(H)).T  # upper, in quantisation order
    diag = np.diag(H).astype(np.float32)
    where = np.empty(padded, np.int64)
    where[order] = np.arange(padded)  # column -> its position in quantisation order
    codes = np.zeros((rows, padded), np.int8)
    scales = np.zeros((rows, padded // gs), np.float16)
    sf = np.zeros((rows, padded // gs))
    have = np.zeros(padded // gs, bool)
    for i in range(padded):
        col = order[i]
        g = col // gs
        if not have[g]:
            pos = where[g * gs:(g + 1) * gs]
            q, s = quantize(W[:, pos].astype(np.float32), gs, importance=diag[pos])
            scales[:, g] = s[:, 0]
            sf[:, g] = s[:, 0].astype(np.float64)
            have[g] = True
        s = sf[:, g]
        qi = np.where(s > 0, np.clip(np.rint(W[:, i] / np.where(s > 0, s, 1.0)), -8, 7), 0)
        codes[:, col] = qi
        err = (W[:, i] - qi * s) / Hinv[i, i]
        W[:, i + 1:] -= np.outer(err, Hinv[i, i + 1:])
    return codes, scales


def variant_weights(config, weights, scheme, stats=None):
    """Float weights as a scheme stores them, and the activation group sizes.

    scheme: dict(kind="f32"|"int8"|"int4", gs=..., search=bool, weighted=bool, gptq=bool,
    cls="int8"|"int4"|None, cls_gs=..., int8=(layer matrices kept int8 when kind is int4),
    calib=stories, calib_seed=first seed, act_order=bool, damp=float (GPTQ's, default the
    converter's)).  stats(n, seed): E[x x^T] per matrix over that calibration corpus.
    """
    from host import modelfile
    w = dict(weights)
    act = {}
    L = config["n_layers"]
    kind = scheme["kind"]
    if kind == "f32":
        return w, act
    imp = None
    if scheme.get("gptq") or scheme.get("weighted"):
        imp = stats(scheme.get("calib", CALIBRATION_STORIES), scheme.get("calib_seed", CALIBRATION_SEED))

    def q(name, l, m):
        if name == "wcls":
            k, gs = scheme.get("cls", kind), scheme.get("cls_gs", scheme.get("gs"))
        else:
            k, gs = ("int8" if name in scheme.get("int8", ()) else kind), scheme.get("gs")
        if k == "int8":
            g = modelfile.pick_group_size(m.shape[1])
            codes, s = modelfile.quantize(m, g)
            return modelfile.dequantize(codes, s, m.shape[1]), g
        if scheme.get("gptq"):
            codes, s = quantize_gptq(m, gs, imp[(name, l)], damp=scheme.get("damp", GPTQ_DAMP),
                                     act_order=scheme.get("act_order", GPTQ_ACT_ORDER))
            return dequantize(codes, s, m.shape[1]), gs
        im = np.diag(imp[(name, l)]) if (imp is not None and scheme.get("weighted")) else None
        codes, s = quantize(m, gs, importance=im, search=scheme.get("search", True))
        return dequantize(codes, s, m.shape[1]), gs

    for name in MATRICES:
        mats = []
        for l in range(L):
            m, g = q(name, l, weights[name][l])
            mats.append(m)
            act[(name, l)] = g
        w[name] = np.stack(mats)
    cls, g = q("wcls", None, weights["token_embedding_table"])
    w["token_embedding_table"] = cls
    w["wcls"] = cls
    act[("wcls", None)] = g
    return w, act


def matrix_bytes(config, act, kinds):
    """Bytes of the matrices' codes and scales in a .llm file (shared classifier): act gives each
    matrix's group size, kinds(name) its type ("int8", "int4" or "f32")."""
    from host.fileformat import shape
    cfg = tuple(config[k] for k in llama2.CONFIG_NAMES)
    total = 0
    for (name, l), gs in act.items():
        rows, cols = shape("classifier" if name == "wcls" else name, cfg)
        k = kinds(name)
        if k == "f32":
            total += 4 * rows * cols
            continue
        p = padded_cols(cols, gs)
        total += rows * p * (1 if k == "int8" else 0.5) + 2 * rows * (p // gs)
    return int(total)


def evaluate(config, weights, act, corpus, ref_logp, ref_greedy, prompt_tokens):
    m = Model(config, weights)
    m.act_gs = act
    nll, kl, agree, n = 0.0, 0.0, 0, 0
    for toks, rlp in zip(corpus, ref_logp):
        lp = _logsoftmax(m.forward_seq(toks[:-1]))
        tgt = np.asarray(toks[1:])
        nll -= lp[np.arange(len(tgt)), tgt].sum()
        kl += (np.exp(rlp) * (rlp - lp)).sum()
        agree += int((lp.argmax(axis=1) == rlp.argmax(axis=1)).sum())
        n += len(tgt)
    g = greedy(m, prompt_tokens, len(ref_greedy))
    lead = 0
    for a, b in zip(g, ref_greedy):
        if a != b:
            break
        lead += 1
    return {"ppl": float(np.exp(nll / n)), "kl": kl / n, "top1": agree / n, "greedy_lead": lead - len(prompt_tokens),
            "tokens": n}


OLD_GPTQ = dict(calib=16, act_order=False, damp=0.01)  # GPTQ as first converted: 16 stories, column order
SCHEMES = [
    ("fp32", dict(kind="f32")),
    ("int8 (64/48, absmax)", dict(kind="int8")),
    ("int4 g64, plain rounding", dict(kind="int4", gs=64, search=False)),
    ("int4 g32, plain rounding", dict(kind="int4", gs=32, search=False)),
    ("int4 g32, scale search", dict(kind="int4", gs=32, search=True)),
    ("int4 g32, activation-weighted search", dict(kind="int4", gs=32, search=True, weighted=True, calib=16)),
    ("int4 g16, activation-weighted search", dict(kind="int4", gs=16, search=True, weighted=True, calib=16)),
    ("int4 g64, GPTQ (16 stories, column order)", dict(kind="int4", gs=64, gptq=True, **OLD_GPTQ)),
    ("int4 g32, GPTQ (16 stories, column order)", dict(kind="int4", gs=32, gptq=True, **OLD_GPTQ)),
    ("int4 g32 GPTQ (16, column order), classifier int8 (does not fit 10 MiB)",
     dict(kind="int4", gs=32, gptq=True, cls="int8", **OLD_GPTQ)),
    ("int4 g16, GPTQ (16 stories, column order)", dict(kind="int4", gs=16, gptq=True, **OLD_GPTQ)),
    ("int4 g32 GPTQ (16, column order), classifier g16", dict(kind="int4", gs=32, gptq=True, cls_gs=16, **OLD_GPTQ)),
] + [
    # per-tensor sensitivity: one kind of layer matrix int8 in every layer, the rest as the old default
    ("int4 g32 GPTQ (16, column order), %s int8" % t, dict(kind="int4", gs=32, gptq=True, int8=(t,), **OLD_GPTQ))
    for t in MATRICES
] + [
    # GPTQ's settings
    ("int4 g32, GPTQ act order (16 stories)", dict(kind="int4", gs=32, gptq=True, calib=16, damp=0.01)),
    ("int4 g32, GPTQ damp 0.1 (16 stories, column order)",
     dict(kind="int4", gs=32, gptq=True, calib=16, act_order=False)),
    ("int4 g32, GPTQ 64 stories (column order)", dict(kind="int4", gs=32, gptq=True, act_order=False, damp=0.01)),
    ("int4 g32, GPTQ act order, damp 0.1 (16 stories)", dict(kind="int4", gs=32, gptq=True, calib=16)),
    ("int4 g32, GPTQ act order, damp 0.1, 64 stories (pure int4: --pure-int4)", dict(kind="int4", gs=32, gptq=True)),
] + [
    # mixed: the GPTQ above, the listed layer matrices int8
    ("int4 g32 GPTQ, %s int8%s" % ("+".join(t), " (the converter's default)" if t == INT8_TENSORS else ""),
     dict(kind="int4", gs=32, gptq=True, int8=t))
    for t in (("wv",), ("w2",), ("wv", "w2"), ("wv", "w1"), ("wv", "w3"), ("wq", "wk", "wv", "wo"),
              ("wv", "w2", "wo"), ("wv", "w2", "wq"))
] + [
    # the same with other calibration corpora: how much the choice of 64 stories matters
    ("int4 g32 GPTQ%s, calibration seeds %d-%d" % (", " + "+".join(t) + " int8" if t else "", s, s + 63),
     dict(kind="int4", gs=32, gptq=True, int8=t, calib_seed=s))
    for s in (3001, 5001) for t in ((), ("wv",), ("wv", "w2"), ("wv", "w2", "wo"))
]


def study(model_path, tokenizer_path, n_stories=12, length=256, schemes=None, log=sys.stderr, select=None):
    from host import reference
    config, weights = llama2.read_checkpoint(model_path)
    tok = reference.Tokenizer.from_file(tokenizer_path, config["vocab_size"])
    prompt = tok.encode(b"Once upon a time", bos=True)
    t0 = time.time()
    base = Model(config, weights)
    corpus = sample_corpus(base, n_stories, length, seed0=1)
    log.write("corpus: %d stories, %d tokens (%.0f s)\n" % (len(corpus), sum(map(len, corpus)), time.time() - t0))
    calib_stats = {}

    def stats(n, seed):
        if (n, seed) not in calib_stats:
            calib_stats[(n, seed)] = activation_stats(base, sample_corpus(base, n, length, seed0=seed))
        return calib_stats[(n, seed)]

    ref_logp = [_logsoftmax(base.forward_seq(t[:-1])) for t in corpus]
    ref_greedy = greedy(base, prompt, 128)
    fixed = file_overhead(config, tokenizer_path)
    rows = []
    for label, scheme in (schemes or SCHEMES):
        if select and not any(s in label for s in select):
            continue
        t0 = time.time()
        w, act = variant_weights(config, weights, scheme, stats)
        r = evaluate(config, w, act, corpus, ref_logp, ref_greedy, prompt)
        r["label"] = label
        kind = scheme["kind"]
        if kind == "f32":
            act = {(n, l): 0 for n in MATRICES for l in range(config["n_layers"])}
            act[("wcls", None)] = 0
        r["bytes"] = fixed + matrix_bytes(config, act, lambda n: scheme.get("cls", kind) if n == "wcls" else
                                          ("int8" if n in scheme.get("int8", ()) else kind))
        rows.append(r)
        log.write("%-42s ppl %.4f  KL %.5f  top-1 %.4f  greedy %d  %d bytes (%.0f s)\n"
                  % (label, r["ppl"], r["kl"], r["top1"], r["greedy_lead"], r["bytes"], time.time() - t0))
    return rows, {"stories": len(corpus), "tokens": sum(len(t) - 1 for t in corpus),
                  "greedy_steps": len(ref_greedy) - len(prompt)}


def file_overhead(config, tokenizer_path):
    """The bytes of a .llm file (shared classifier) besides its matrices: header, table,
    tokenizer and its index, the norms."""
    import os
    from host.fileformat import ALIGN, HEADER_SIZE, TABLE_ENTRY_SIZE, n_tensors
    up = lambda n: -(-n // ALIGN) * ALIGN
    L, dim = config["n_layers"], config["dim"]
    return (up(HEADER_SIZE) + up(TABLE_ENTRY_SIZE * n_tensors(L)) + up(os.path.getsize(tokenizer_path))
            + up(8 * config["vocab_size"]) + (2 * L + 1) * up(4 * dim))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host int4-study",
                                 description="perplexity, KL and agreement of fp32, int8 and int4 weights on a"
                                 " corpus sampled from the fp32 model (docs/int4.md)")
    ap.add_argument("--model", required=True, help="llama2.c version-0 checkpoint (e.g. stories15M.bin)")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--stories", type=int, default=12, help="stories sampled (seeds 1..N, temperature 1)")
    ap.add_argument("--length", type=int, default=256, help="tokens per story at most")
    ap.add_argument("--json", help="write the rows here too")
    ap.add_argument("--only", action="append", metavar="TEXT",
                    help="only the rows whose label contains TEXT (repeatable; fp32 is always measured)")
    args = ap.parse_args(argv)
    rows, meta = study(args.model, args.tokenizer, args.stories, args.length,
                       select=args.only and ["fp32"] + args.only)
    fp = rows[0]["ppl"]
    print("corpus: %d stories sampled from the fp32 model (seeds 1..%d, temperature 1), %d predicted tokens;"
          " greedy: %d steps after \"Once upon a time\"" % (meta["stories"], meta["stories"], meta["tokens"],
                                                            meta["greedy_steps"]))
    print("| weights | file (bytes) | perplexity | vs fp32 | mean KL from fp32 | top-1 agreement |"
          " greedy tokens equal to fp32 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %d | %.4f | %+.2f%% | %.5f | %.2f%% | %d / %d |"
              % (r["label"], r["bytes"], r["ppl"], 100 * (r["ppl"] / fp - 1), r["kl"], 100 * r["top1"],
                 r["greedy_lead"], meta["greedy_steps"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------------------------------------
# numpy reference of the firmware's quantised matmuls (int8 and int4 tensors of a .llm file)

def quantize_act_exact(x, gs):
    """llm_quantize_q8 bit for bit: per group scale = amax / 127 and codes roundf(x * (127 / amax)),
    the row padded with zero codes to whole groups."""
    x = np.asarray(x, np.float32)
    n = x.shape[0]
    p = padded_cols(n, gs)
    xp = np.zeros(p, np.float32)
    xp[:n] = x
    g = xp.reshape(-1, gs)
    amax = np.abs(g).max(axis=1)
    if not np.all(np.isfinite(amax)) or np.any((amax > 0) & (amax < 2.0 ** -60)):
        raise ValueError("only finite activations of ordinary size are modelled")
    scales = (amax / np.float32(127.0)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(amax > 0, np.float32(127.0) / amax, np.float32(0)).astype(np.float32)
    v = (g * inv[:, None]).astype(np.float32)
    r = np.trunc(v)
    frac = (v - r).astype(np.float32)
    codes = (r + (frac >= 0.5) - (frac <= -0.5)).astype(np.int8)
    return codes.reshape(-1), scales


class QuantMatrix:
    """An int8 or int4 tensor as the firmware multiplies it: x quantised in the tensor's groups,
    exact integer dot products per group, then sum += ((float)dot * w_scale) * x_scale in group order."""

    def __init__(self, codes, scales, cols):
        self.codes = np.asarray(codes, np.int8)
        self.scales = np.asarray(scales, np.float16).astype(np.float32)
        self.cols = cols
        self.gs = self.codes.shape[1] // self.scales.shape[1]
        self.shape = (self.codes.shape[0], cols)

    def dequantized(self):
        return dequantize(self.codes, self.scales, self.cols).astype(np.float32)

    def matmul(self, x):
        return self.matmul_codes(*quantize_act_exact(x, self.gs))

    def matmul_codes(self, xq, xs):
        rows, groups = self.codes.shape[0], self.scales.shape[1]
        dots = (self.codes.reshape(rows, groups, self.gs).astype(np.int32)
                * xq.reshape(groups, self.gs).astype(np.int32)).sum(axis=2, dtype=np.int64)
        total = np.zeros(rows, np.float32)
        for g in range(groups):
            total = (total + (dots[:, g].astype(np.float32) * self.scales[:, g]).astype(np.float32) * xs[g]
                     ).astype(np.float32)
        return total


def read_llm(path):
    """(config, float weights for host.reference, {name: QuantMatrix or [QuantMatrix per layer]})
    of a .llm file; float weights hold the dequantised matrices (the embedding lookup's values)."""
    from host import modelfile
    from host.fileformat import F32, LAYER_TENSORS, Q4, Q8
    data = open(path, "rb").read()
    h = modelfile.read_header(data)
    table = modelfile.read_table(data, h)
    c = h["config"]
    cfg = llama2.validate_config(dict(c))
    dim, hidden, kv_dim = cfg["dim"], cfg["hidden_dim"], cfg["kv_dim"]
    rows_of = {"wq": dim, "wk": kv_dim, "wv": kv_dim, "wo": dim, "w1": hidden, "w2": dim, "w3": hidden}

    def tensor(entry, rows, cols):
        off, kind, gs, soff = entry
        if kind == F32:
            return np.frombuffer(data, "<f4", rows * cols, off).reshape(rows, cols)
        p = padded_cols(cols, gs)
        scales = np.frombuffer(data, "<f2", rows * p // gs, soff).reshape(rows, p // gs)
        if kind == Q8:
            codes = np.frombuffer(data, np.int8, rows * p, off).reshape(rows, p)
        elif kind == Q4:
            codes = unpack(np.frombuffer(data, np.uint8, rows * p // 2, off).reshape(rows, p // 2))
        else:
            raise ValueError("tensor type %d" % kind)
        return QuantMatrix(codes, scales, cols)

    floats = lambda t: t.dequantized() if isinstance(t, QuantMatrix) else np.asarray(t, np.float32)
    L = cfg["n_layers"]
    quant, w = {}, {}
    emb = tensor(table[0], cfg["vocab_size"], dim)
    w["token_embedding_table"] = floats(emb)
    if isinstance(emb, QuantMatrix):
        quant["token_embedding_table"] = emb
    per = {name: [] for name in LAYER_TENSORS}
    for l in range(L):
        for i, name in enumerate(LAYER_TENSORS):
            e = table[1 + l * len(LAYER_TENSORS) + i]
            if name.startswith("rms_"):
                per[name].append(np.frombuffer(data, "<f4", dim, e[0]))
            else:
                per[name].append(tensor(e, rows_of[name], hidden if name == "w2" else dim))
    for name in LAYER_TENSORS:
        if name.startswith("rms_"):
            w[name + "_weight"] = np.stack(per[name])
        else:
            w[name] = np.stack([floats(t) for t in per[name]])
            if isinstance(per[name][0], QuantMatrix):
                quant[name] = per[name]
    w["rms_final_weight"] = np.frombuffer(data, "<f4", dim, table[-2][0]).copy()
    cls = emb if h["shared"] else tensor(table[-1], cfg["vocab_size"], dim)
    w["wcls"] = floats(cls)
    if isinstance(cls, QuantMatrix):
        quant["wcls"] = cls
    return c, w, quant


def reference_transformer(path):
    """host.reference.Transformer over a .llm file, its quantised matrices multiplied as the firmware
    does (QuantMatrix).  The rest is llama2.c's float arithmetic; the firmware's quantised path differs
    there only in its exponential and RoPE table (a few ulps), so logits agree closely, not bit for bit."""
    from host import reference
    c, w, quant = read_llm(path)
    t = reference.Transformer(c, w)
    for name, q in quant.items():
        if name != "token_embedding_table":  # looked up by row: the dequantised floats
            t.w[name] = q
    return t
