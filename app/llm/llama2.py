# llama2.c's legacy version-0 checkpoint: seven int32 (dim, hidden_dim,
# n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size
# means the classifier is not shared with the embedding), then float32
# tensors in a fixed order, optionally followed by the classifier.
import struct
from array import array

from .fileformat import F32, LAYER_TENSORS, V0_HEADER_SIZE, VOCAB_SIZE, check_config, shape


def read_header(f, path):
    data = f.read(V0_HEADER_SIZE)
    if data is None or len(data) != V0_HEADER_SIZE:
        raise ValueError("%s: too short for a llama2.c checkpoint header" % path)
    cfg = list(struct.unpack("<7i", data))
    shared = cfg[VOCAB_SIZE] > 0
    cfg[VOCAB_SIZE] = abs(cfg[VOCAB_SIZE])
    check_config(cfg, path)
    return tuple(cfg), shared


def layout(cfg, shared):
    """Tensor table (offset, F32, 0, 0) x fileformat.n_tensors(n_layers) and file size."""
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = cfg
    head_size = dim // heads
    sizes = {}
    for name in ("embedding",) + LAYER_TENSORS:
        rows, cols = shape(name, cfg)
        sizes[name] = rows * cols
    # Tensors are stored all layers at a time: every rms_att, then every wq...
    starts = {}
    off = V0_HEADER_SIZE
    for name in ("embedding",) + LAYER_TENSORS:
        starts[name] = off
        off += sizes[name] * 4 * (1 if name == "embedding" else layers)
    rms_final = off
    off += dim * 4
    off += seq_len * head_size * 4  # freq_cis_real and _imag, unused
    classifier = starts["embedding"] if shared else off
    if not shared:
        off += vocab * dim * 4
    entries = [starts["embedding"], F32, 0, 0]
    for l in range(layers):
        for name in LAYER_TENSORS:
            entries += (starts[name] + l * sizes[name] * 4, F32, 0, 0)
    entries += (rms_final, F32, 0, 0, classifier, F32, 0, 0)
    # The tensor table holds int32 offsets: no table past 2 GiB.
    return (array("i", entries) if off < 1 << 31 else None), off
