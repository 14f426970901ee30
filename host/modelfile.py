"""The .llm model file: config, weights and tokenizer in one aligned file.

See docs/format.md for the layout.  This module writes it (from numpy
arrays) and reads it back for tests and tools; the device reads it with
app/llm/modelfile.py.
"""
import struct

import numpy as np

from host.fileformat import (ALIGN, CONFIG_NAMES, F32, FLAG_SHARED_CLASSIFIER, HEADER_FORMAT, HEADER_SIZE,
                             LAYER_TENSORS, MAGIC, OLDEST_VERSION, Q4, Q8, SIMD_BYTES, TABLE_ENTRY_SIZE, VERSION,
                             group_size_ok, n_tensors, padded_cols)

# Files without 4-bit tensors are written as version 2, which firmware
# from before the 4-bit type reads.
VERSION_WITHOUT_Q4 = 2
# Scales are IEEE halves: 2 bytes per group, so groups of at least 40
# keep them within 5% of the int8 bytes.
MIN_GROUP = 40
# The group sizes the converter picks from: multiples of SIMD_BYTES (whole
# 128-bit vectors for the ESP32-S3's SIMD) of at least MIN_GROUP.
GROUP_CHOICES = (64, 48)
F16_MAX = 65504.0

assert struct.calcsize(HEADER_FORMAT) == HEADER_SIZE


def pick_group_size(cols):
    """The group size for rows of cols values: of 64 and 48, the one that
    pads the row least (64 on a tie: fewer scales and dot products); a row
    shorter than 48 is one group, the row rounded up to a multiple of 16.
    Rows are padded with zeros to a multiple of the group size."""
    if cols < min(GROUP_CHOICES):
        return padded_cols(cols, SIMD_BYTES)
    return min(GROUP_CHOICES, key=lambda gs: padded_cols(cols, gs))


def quantize(w, group_size):
    """int8 codes [rows][padded] and half scales [rows][padded / group_size]
    of a 2-D float array, grouped along rows; each row is padded with zeros
    to padded = cols rounded up to a multiple of group_size."""
    rows, cols = w.shape
    if not group_size_ok(cols, group_size):
        raise ValueError("group size %d does not divide the row length %d and is not a multiple of %d"
                         " at most the row rounded up to %d" % (group_size, cols, SIMD_BYTES, SIMD_BYTES))
    padded = padded_cols(cols, group_size)
    wp = np.zeros((rows, padded), dtype=np.float32)
    wp[:, :cols] = w
    groups = wp.reshape(rows, padded // group_size, group_size)
    amax = np.abs(groups).max(axis=2)
    if not np.all(np.isfinite(amax)):
        raise ValueError("weights contain NaN or infinity")
    if amax.max(initial=0.0) / 127.0 > F16_MAX:
        raise ValueError("weights too large for half-precision scales (max |w| %g)" % amax.max())
    scales = (amax / 127.0).astype(np.float16)
    s32 = scales.astype(np.float32)[:, :, None]
    # An all-zero group keeps scale 0 and codes 0, never 0/0.
    safe = np.where(s32 > 0, s32, 1.0)
    q = np.where(s32 > 0, np.clip(np.rint(groups / safe), -127, 127), 0).astype(np.int8)
    return q.reshape(rows, padded), scales


def dequantize(q, scales, cols=None):
    """Float weights of int8 codes and their scales; cols drops the padding."""
    rows, padded = q.shape
    gs = padded // scales.shape[1]
    w = (q.reshape(rows, -1, gs).astype(np.float32) * scales.astype(np.float32)[:, :, None]).reshape(rows, padded)
    return w if cols is None else w[:, :cols]


def tokenizer_index(tok_bytes, vocab_size):
    """uint32 record offsets and uint32 ids sorted by piece (C string order)."""
    offsets, pieces = [], []
    off = 4
    for i in range(vocab_size):
        if off + 8 > len(tok_bytes):
            raise ValueError("tokenizer truncated at token %d of %d" % (i, vocab_size))
        (n,) = struct.unpack_from("<i", tok_bytes, off + 4)
        if n < 0 or off + 8 + n > len(tok_bytes):
            raise ValueError("tokenizer: bad piece length at token %d" % i)
        offsets.append(off)
        pieces.append(bytes(tok_bytes[off + 8:off + 8 + n]).split(b"\0")[0])
        off += 8 + n
    order = sorted(range(vocab_size), key=lambda i: (pieces[i], i))
    return np.array(offsets, dtype="<u4"), np.array(order, dtype="<u4")


class _Writer:
    def __init__(self):
        self.buf = bytearray()

    def align(self):
        self.buf += b"\0" * (-len(self.buf) % ALIGN)

    def put(self, data):
        self.align()
        off = len(self.buf)
        self.buf += data
        return off


class Q4Tensor:
    """A ready 4-bit tensor for write(): codes int8 [rows][padded] in [-8, 7], half scales."""

    def __init__(self, codes, scales):
        self.codes, self.scales = codes, scales


def write(path, config, weights, tok_bytes, dtype="f32", group_size=None, shared=None, progress=None):
    """Write a .llm file.

    config: dict with CONFIG_NAMES; weights: host.llama2's dict of float32
    arrays; tok_bytes: the raw tokenizer.bin.  dtype "int8" quantises every
    matrix (norms stay float32); group_size None picks one per tensor.
    weights may also carry ready int8 tensors as (codes, half scales) tuples
    and ready 4-bit ones as Q4Tensor.
    """
    c = [int(config[k]) for k in CONFIG_NAMES]
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = c
    if shared is None:
        shared = weights["wcls"] is weights["token_embedding_table"]
    offsets, order = tokenizer_index(tok_bytes, vocab)
    entries = n_tensors(n_layers)

    w = _Writer()
    w.buf += b"\0" * HEADER_SIZE
    table_off = w.put(b"\0" * (TABLE_ENTRY_SIZE * entries))
    tok_off = w.put(bytes(tok_bytes))
    index_off = w.put(offsets.tobytes() + order.tobytes())

    table = []
    cols_of = {"embedding": dim, "classifier": dim, "wq": dim, "wk": dim, "wv": dim, "wo": dim, "w1": dim,
               "w3": dim, "w2": hidden}

    def put_matrix(name, m):
        if isinstance(m, Q4Tensor):
            from host import int4
            gs = m.codes.shape[1] // m.scales.shape[1]
            cols = cols_of[name]
            if m.codes.shape[1] != padded_cols(cols, gs) or not group_size_ok(cols, gs, Q4):
                raise ValueError("%s: int4 codes of %d columns with group size %d do not fit rows of %d"
                                 % (name, m.codes.shape[1], gs, cols))
            data = w.put(int4.pack(m.codes).tobytes())
            scales = w.put(np.ascontiguousarray(m.scales, dtype="<f2").tobytes())
            table.append((data, Q4, gs, scales))
            return
        if isinstance(m, tuple):
            q, s = m
        elif dtype == "int8":
            gs = group_size or pick_group_size(m.shape[1])
            q, s = quantize(m, gs)
        else:
            table.append((w.put(np.ascontiguousarray(m, dtype="<f4").tobytes()), F32, 0, 0))
            return
        gs = q.shape[1] // s.shape[1]
        cols = cols_of[name]
        if q.shape[1] != padded_cols(cols, gs) or not group_size_ok(cols, gs):
            raise ValueError("%s: int8 codes of %d columns with group size %d do not fit rows of %d"
                             % (name, q.shape[1], gs, cols))
        data = w.put(np.ascontiguousarray(q, dtype=np.int8).tobytes())
        scales = w.put(np.ascontiguousarray(s, dtype="<f2").tobytes())
        table.append((data, Q8, gs, scales))

    def put_norm(v):
        table.append((w.put(np.ascontiguousarray(v, dtype="<f4").tobytes()), F32, 0, 0))

    steps = 2 + n_layers
    put_matrix("embedding", weights["token_embedding_table"])
    if progress:
        progress(1, steps)
    for l in range(n_layers):
        for name in LAYER_TENSORS:
            if name.startswith("rms_"):
                put_norm(weights[name + "_weight"][l])
            else:
                put_matrix(name, weights[name][l])
        if progress:
            progress(2 + l, steps)
    put_norm(weights["rms_final_weight"])
    if shared:
        table.append(table[0])
    else:
        put_matrix("classifier", weights["wcls"])
    if progress:
        progress(steps, steps)
    w.align()
    if len(w.buf) >= 1 << 31:
        raise ValueError("the model would take %d bytes; the format's int32 offsets stop at 2 GiB" % len(w.buf))
    struct.pack_into("<%di" % (4 * entries), w.buf, table_off, *[v for e in table for v in e])
    version = VERSION if any(e[1] == Q4 for e in table) else VERSION_WITHOUT_Q4
    header = struct.pack(HEADER_FORMAT, MAGIC, version, HEADER_SIZE, *c,
                         FLAG_SHARED_CLASSIFIER if shared else 0, table_off, tok_off, len(tok_bytes),
                         index_off, len(w.buf))
    w.buf[:HEADER_SIZE] = header
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(w.buf)
    import os
    os.replace(tmp, path)  # never leave a half-written model under the real name
    return len(w.buf)


def read_header(data):
    if len(data) < HEADER_SIZE:
        raise ValueError("too short for a .llm header")
    fields = struct.unpack_from(HEADER_FORMAT, data, 0)
    magic, version, header_size = fields[:3]
    if magic != MAGIC:
        raise ValueError("not a .llm file (magic %r)" % magic)
    if not OLDEST_VERSION <= version <= VERSION:
        raise ValueError(".llm version %d is not supported (this reads versions %d to %d); re-convert the model"
                         % (version, OLDEST_VERSION, VERSION))
    config = dict(zip(CONFIG_NAMES, fields[3:10]))
    flags, table_off, tok_off, tok_size, index_off, file_size = fields[10:]
    return {"config": config, "shared": bool(flags & FLAG_SHARED_CLASSIFIER), "table_offset": table_off,
            "tokenizer_offset": tok_off, "tokenizer_size": tok_size, "index_offset": index_off,
            "file_size": file_size, "header_size": header_size, "version": version}


def read_table(data, header):
    n = n_tensors(header["config"]["n_layers"])
    vals = struct.unpack_from("<%di" % (4 * n), data, header["table_offset"])
    return [tuple(vals[4 * i:4 * i + 4]) for i in range(n)]
