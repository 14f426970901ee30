"""Read and write llama2.c model files (CPython + numpy).

Checkpoint: llama2.c "legacy" version-0 float32 format, as read by llama2.c's run.c:

    int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
        (vocab_size < 0 means the classifier is NOT shared with the token embedding)
    float32 token_embedding_table[vocab_size][dim]
    float32 rms_att_weight[n_layers][dim]
    float32 wq[n_layers][n_heads*head_size][dim]
    float32 wk[n_layers][n_kv_heads*head_size][dim]
    float32 wv[n_layers][n_kv_heads*head_size][dim]
    float32 wo[n_layers][dim][n_heads*head_size]
    float32 rms_ffn_weight[n_layers][dim]
    float32 w1[n_layers][hidden_dim][dim]
    float32 w2[n_layers][dim][hidden_dim]
    float32 w3[n_layers][hidden_dim][dim]
    float32 rms_final_weight[dim]
    float32 freq_cis_real[seq_len][head_size/2]   (unused by run.c, skipped)
    float32 freq_cis_imag[seq_len][head_size/2]   (unused by run.c, skipped)
    float32 wcls[vocab_size][dim]                 (only if unshared)

All matrices are stored row-major as [out][in], i.e. y[i] = sum_j W[i][j] * x[j].
Everything is little-endian.

Tokenizer (tokenizer.bin): int32 max_token_length, then for each of vocab_size tokens:
float32 score, int32 len, len bytes (no terminator).
"""

import struct

import numpy as np

from host.fileformat import CONFIG_NAMES, LAYER_TENSORS, shape

__all__ = [
    "CONFIG_NAMES", "WEIGHT_NAMES",
    "validate_config", "weight_shapes", "checkpoint_size",
    "read_checkpoint", "write_checkpoint", "random_checkpoint", "random_weights",
    "read_tokenizer", "write_tokenizer", "random_tokenizer",
]

# CONFIG_NAMES: the header's order in the file

# weight tensors in file order (wcls comes after the two freq_cis tables, and only if unshared)
WEIGHT_NAMES = (
    "token_embedding_table", "rms_att_weight", "wq", "wk", "wv", "wo",
    "rms_ffn_weight", "w1", "w2", "w3", "rms_final_weight",
)

_HEADER = struct.Struct("<7i")
_INT32_MAX = 2**31 - 1


def validate_config(config):
    """Check a config dict and return a normalised copy with derived fields.

    ``vocab_size`` must be positive here (the sign trick is only a file-format detail; the
    returned dict has ``shared_classifier``). Adds ``head_size``, ``kv_dim``, ``kv_mul``.
    Raises ValueError with a clear message on any inconsistency.
    """
    out = {}
    for key in CONFIG_NAMES:
        if key not in config:
            raise ValueError("config is missing %r" % key)
        val = config[key]
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)):
            raise ValueError("config[%r] must be an int, got %r" % (key, val))
        val = int(val)
        if val <= 0:
            raise ValueError("config[%r] must be positive, got %d" % (key, val))
        if val > _INT32_MAX:
            raise ValueError("config[%r] = %d does not fit in int32" % (key, val))
        out[key] = val
    if out["dim"] % out["n_heads"]:
        raise ValueError("dim (%d) is not a multiple of n_heads (%d)" % (out["dim"], out["n_heads"]))
    if out["n_kv_heads"] > out["n_heads"] or out["n_heads"] % out["n_kv_heads"]:
        raise ValueError("n_heads (%d) is not a multiple of n_kv_heads (%d)"
                         % (out["n_heads"], out["n_kv_heads"]))
    head_size = out["dim"] // out["n_heads"]
    if head_size % 2:
        raise ValueError("head_size (%d = dim/n_heads) must be even for RoPE" % head_size)
    out["head_size"] = head_size
    out["kv_dim"] = head_size * out["n_kv_heads"]
    out["kv_mul"] = out["n_heads"] // out["n_kv_heads"]
    out["shared_classifier"] = bool(config.get("shared_classifier", True))
    return out


def weight_shapes(config, shared=None):
    """List of (name, shape) in file order, including the skipped freq_cis tables.

    ``shared`` defaults to config["shared_classifier"]; if False, "wcls" is appended.
    """
    c = validate_config(config)
    if shared is None:
        shared = c["shared_classifier"]
    d, L, T, hs = c["dim"], c["n_layers"], c["seq_len"], c["head_size"]
    cfg = tuple(c[k] for k in CONFIG_NAMES)
    # fileformat.SHAPES, all layers at a time; the norms (one row) as vectors.
    names = {"rms_att": "rms_att_weight", "rms_ffn": "rms_ffn_weight"}
    shapes = [("token_embedding_table", shape("embedding", cfg))]
    for name in LAYER_TENSORS:
        rows, cols = shape(name, cfg)
        shapes.append((names.get(name, name), (L, cols) if name in names else (L, rows, cols)))
    shapes += [
        ("rms_final_weight", (d,)),
        ("freq_cis_real", (T, hs // 2)),
        ("freq_cis_imag", (T, hs // 2)),
    ]
    if not shared:
        shapes.append(("wcls", shape("classifier", cfg)))
    return shapes


def _count(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def checkpoint_size(config, shared=None):
    """Exact size in bytes of a version-0 checkpoint file for this config."""
    return _HEADER.size + 4 * sum(_count(s) for _, s in weight_shapes(config, shared))


def read_checkpoint(path):
    """Read a llama2.c legacy (version 0) float32 checkpoint.

    Returns (config, weights). ``config`` has the 7 header fields (vocab_size positive),
    ``shared_classifier``, ``head_size``, ``kv_dim``, ``kv_mul``. ``weights`` maps the names in
    WEIGHT_NAMES plus "wcls" to native float32 arrays shaped [layer][out][in] (see module doc);
    for a shared classifier weights["wcls"] is weights["token_embedding_table"] (same object).
    Raises ValueError for truncated/oversized files, bad header values and non-finite weights.
    """
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    return parse_checkpoint(buf, name=str(path))


def parse_checkpoint(buf, name="checkpoint"):
    """Like read_checkpoint but from a bytes-like object (copied if it is not a bytearray)."""
    if not isinstance(buf, bytearray):
        buf = bytearray(buf)
    if len(buf) < _HEADER.size:
        raise ValueError("%s: truncated header (%d bytes, need %d)" % (name, len(buf), _HEADER.size))
    header = _HEADER.unpack_from(buf, 0)
    raw = dict(zip(CONFIG_NAMES, header))
    vocab = raw["vocab_size"]
    if vocab == 0:
        raise ValueError("%s: vocab_size is 0" % name)
    shared = vocab > 0
    raw["vocab_size"] = abs(vocab)
    raw["shared_classifier"] = shared
    try:
        config = validate_config(raw)
    except ValueError as e:
        raise ValueError("%s: bad header %r: %s" % (name, header, e)) from None
    expected = checkpoint_size(config)
    if len(buf) < expected:
        raise ValueError("%s: truncated checkpoint: %d bytes, header implies %d"
                         % (name, len(buf), expected))
    if len(buf) > expected:
        raise ValueError("%s: size mismatch: %d bytes, header implies %d (%d trailing bytes)"
                         % (name, len(buf), expected, len(buf) - expected))
    weights = {}
    offset = _HEADER.size
    for wname, shape in weight_shapes(config):
        n = _count(shape)
        arr = np.frombuffer(buf, dtype="<f4", count=n, offset=offset).reshape(shape)
        offset += 4 * n
        if wname.startswith("freq_cis"):
            continue
        arr = arr.astype(np.float32, copy=False)
        if not np.all(np.isfinite(arr)):
            raise ValueError("%s: %s contains non-finite values" % (name, wname))
        weights[wname] = arr
    assert offset == len(buf)
    if shared:
        weights["wcls"] = weights["token_embedding_table"]
    return config, weights


def _freq_cis(config):
    """The freq_cis tables llama2.c's export writes (unused by run.c): cos/sin(t * theta_k)."""
    hs, T = config["head_size"], config["seq_len"]
    inv = 1.0 / (10000.0 ** (np.arange(0, hs, 2, dtype=np.float64) / hs))
    ang = np.outer(np.arange(T, dtype=np.float64), inv)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def write_checkpoint(path, config, weights, shared=True):
    """Write a version-0 checkpoint. ``weights`` as returned by read_checkpoint.

    With shared=True the classifier is the token embedding (a "wcls" entry, if present,
    must equal it); with shared=False weights["wcls"] is required and vocab_size is
    stored negated.
    """
    cfg = dict(config)
    cfg["shared_classifier"] = bool(shared)
    cfg = validate_config(cfg)
    if shared and "wcls" in weights and weights["wcls"] is not weights["token_embedding_table"]:
        if not np.array_equal(np.asarray(weights["wcls"]), np.asarray(weights["token_embedding_table"])):
            raise ValueError("shared=True but weights['wcls'] differs from token_embedding_table")
    fcr, fci = _freq_cis(cfg)
    parts = []
    for wname, shape in weight_shapes(cfg):
        if wname == "freq_cis_real":
            arr = fcr
        elif wname == "freq_cis_imag":
            arr = fci
        else:
            if wname not in weights:
                raise ValueError("weights is missing %r" % wname)
            arr = np.asarray(weights[wname])
            if tuple(arr.shape) != tuple(shape):
                raise ValueError("weights[%r] has shape %r, expected %r" % (wname, arr.shape, shape))
        parts.append(np.ascontiguousarray(arr, dtype="<f4").tobytes())
    header = [cfg[k] for k in CONFIG_NAMES]
    if not shared:
        header[CONFIG_NAMES.index("vocab_size")] = -cfg["vocab_size"]
    with open(path, "wb") as f:
        f.write(_HEADER.pack(*header))
        for p in parts:
            f.write(p)
    return cfg


def random_weights(config, shared=True, seed=0, scale=0.1):
    """Random float32 weights for ``config``: matrices normal*scale, rms weights 1 + normal*0.1.

    The token embedding uses unit-variance normals so activations are O(1); logits come out
    with a standard deviation of roughly scale*sqrt(dim), enough for non-degenerate sampling.
    """
    cfg = dict(config)
    cfg["shared_classifier"] = bool(shared)
    cfg = validate_config(cfg)
    rng = np.random.default_rng(seed)
    weights = {}
    for wname, shape in weight_shapes(cfg):
        if wname.startswith("freq_cis"):
            continue
        if wname.startswith("rms_"):
            arr = 1.0 + 0.1 * rng.standard_normal(shape)
        elif wname == "token_embedding_table":
            arr = rng.standard_normal(shape)
        else:
            arr = scale * rng.standard_normal(shape)
        weights[wname] = arr.astype(np.float32)
    if shared:
        weights["wcls"] = weights["token_embedding_table"]
    return cfg, weights


def random_checkpoint(path, dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
                      shared=True, seed=0):
    """Write a small random checkpoint to ``path``; returns (config, weights) as read back."""
    config = dict(dim=dim, hidden_dim=hidden_dim, n_layers=n_layers, n_heads=n_heads,
                  n_kv_heads=n_kv_heads, vocab_size=vocab_size, seq_len=seq_len)
    cfg, weights = random_weights(config, shared=shared, seed=seed)
    write_checkpoint(path, cfg, weights, shared=shared)
    return cfg, weights


# ---------------------------------------------------------------------------------------------
# tokenizer.bin

def read_tokenizer(path, vocab_size=None):
    """Read a llama2.c tokenizer.bin. Returns (max_token_length, pieces, scores).

    ``pieces`` is a list of bytes, ``scores`` a list of Python floats (exact float32 values).
    If vocab_size is None, tokens are read until the end of the file. Otherwise exactly
    vocab_size tokens must be present and nothing may follow them.
    Raises ValueError for truncated files, negative lengths, pieces longer than
    max_token_length (llama2.c's encode buffer would overflow) and NaN scores.
    """
    with open(path, "rb") as f:
        data = f.read()
    return parse_tokenizer(data, vocab_size, name=str(path))


def parse_tokenizer(data, vocab_size=None, name="tokenizer"):
    """Like read_tokenizer but from a bytes-like object."""
    data = bytes(data)
    if vocab_size is not None:
        vocab_size = int(vocab_size)
        if vocab_size <= 0:
            raise ValueError("vocab_size must be positive, got %d" % vocab_size)
    if len(data) < 4:
        raise ValueError("%s: truncated (no max_token_length)" % name)
    (max_len,) = struct.unpack_from("<i", data, 0)
    if max_len <= 0:
        raise ValueError("%s: max_token_length must be positive, got %d" % (name, max_len))
    pieces, scores = [], []
    off = 4
    while (vocab_size is None and off < len(data)) or (vocab_size is not None and len(pieces) < vocab_size):
        i = len(pieces)
        if off + 8 > len(data):
            raise ValueError("%s: truncated at token %d (offset %d)" % (name, i, off))
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        if n < 0:
            raise ValueError("%s: token %d has negative length %d" % (name, i, n))
        if n > max_len:
            raise ValueError("%s: token %d has length %d > max_token_length %d" % (name, i, n, max_len))
        if off + n > len(data):
            raise ValueError("%s: truncated in token %d (needs %d bytes at offset %d)" % (name, i, n, off))
        if score != score:
            raise ValueError("%s: token %d has a NaN score" % (name, i))
        pieces.append(data[off:off + n])
        scores.append(score)
        off += n
    if off != len(data):
        raise ValueError("%s: %d trailing bytes after %d tokens" % (name, len(data) - off, len(pieces)))
    if not pieces:
        raise ValueError("%s: no tokens" % name)
    return max_len, pieces, scores


def write_tokenizer(path, pieces, scores, max_token_length=None):
    """Write a tokenizer.bin. ``pieces`` are bytes (str is UTF-8 encoded), ``scores`` floats.

    max_token_length defaults to the longest piece. Returns max_token_length.
    """
    pieces = [p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in pieces]
    scores = [float(s) for s in scores]
    if len(pieces) != len(scores):
        raise ValueError("%d pieces but %d scores" % (len(pieces), len(scores)))
    if not pieces:
        raise ValueError("empty vocabulary")
    longest = max(len(p) for p in pieces)
    if max_token_length is None:
        max_token_length = max(longest, 1)
    if max_token_length < longest:
        raise ValueError("max_token_length %d < longest piece %d" % (max_token_length, longest))
    out = [struct.pack("<i", max_token_length)]
    for p, s in zip(pieces, scores):
        out.append(struct.pack("<fi", s, len(p)))
        out.append(p)
    with open(path, "wb") as f:
        f.write(b"".join(out))
    return max_token_length


# pieces of the random tokenizer, in priority order (single characters before their merges so
# that a truncated list stays mostly BPE-reachable). Includes multi-byte UTF-8 pieces.
_RANDOM_TOK_PIECES = (
    [" "]
    + list("etaoinshrdlucmwfygpbvkjxqz")
    + list(".,!?'\"-:;")
    + ["\u00e9", "\u00fc", "\u00df", "\u00f1", "\u20ac", "\u65e5", "\u672c", "\U0001F600"]
    + [" t", "he", " a", " s", " w", "nd", "in", "er", "an", "ou", " h", "it", "ed", " b",
       " the", " th", "the", " to", " and", "re", "on", "at", "en", "ing", " o", " i", " l",
       "ll", " c", " m", " f", " d", " p", "ca", "caf", "caf\u00e9", " caf\u00e9", " \u00e9",
       "\u00e9t", "\u65e5\u672c", "\u20ac ", "  "]
    + list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + [" T", "Th", "The", " The", " Once", "Once", "On", "nce", " upon", " up", "on ", " time",
       " ti", "me", " was", " wa", "as", " Lily", " Li", "ly", " Tim", "im", "my", " Timmy"]
)


def random_tokenizer(vocab_size, seed=0):
    """A valid llama2.c-style vocabulary of exactly ``vocab_size`` tokens.

    Returns (pieces, scores): id 0 "<unk>", 1 "\\n<s>\\n", 2 "\\n</s>\\n", ids 3..258 the byte
    fallback pieces "<0x00>".."<0xFF>" (score 0), then real pieces starting with " " (the dummy
    prefix), letters, punctuation, multi-byte UTF-8 characters and merges (" the", "café",
    "日本", ...). Real piece k (0-based after the byte pieces) has score -k, like
    sentencepiece BPE vocabularies. If vocab_size exceeds the built-in list, extra merges of
    random pairs of existing pieces are added (deterministic for a given seed). All pieces are
    distinct and none contains a NUL byte. vocab_size must be >= 260.
    """
    vocab_size = int(vocab_size)
    if vocab_size < 260:
        raise ValueError("vocab_size must be >= 260 (3 specials + 256 byte pieces + ' ')")
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % i for i in range(256)]
    seen = set(pieces)
    for p in _RANDOM_TOK_PIECES:
        if len(pieces) >= vocab_size:
            break
        b = p.encode("utf-8")
        if b not in seen:
            seen.add(b)
            pieces.append(b)
    rng = np.random.default_rng(seed)
    attempts = 0
    while len(pieces) < vocab_size:
        attempts += 1
        if attempts > 1000 * vocab_size:
            raise RuntimeError("could not generate enough distinct pieces")
        a = pieces[259 + int(rng.integers(len(pieces) - 259))]
        b = pieces[259 + int(rng.integers(len(pieces) - 259))]
        m = a + b
        if len(m) <= 16 and m not in seen:
            seen.add(m)
            pieces.append(m)
    scores = [0.0] * 259 + [-float(k) for k in range(vocab_size - 259)]
    return pieces, scores
