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


def _sizes(cfg):
    sizes = {}
    for name in ("embedding",) + LAYER_TENSORS:
        rows, cols = shape(name, cfg)
        sizes[name] = rows * cols
    return sizes


def file_bytes(cfg, shared):
    """The size of a checkpoint with this config: arithmetic only, so that a
    header claiming millions of layers is caught before anything is built."""
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = cfg
    sizes = _sizes(cfg)
    n = sizes["embedding"] + layers * sum(sizes[name] for name in LAYER_TENSORS)
    n += dim + seq_len * (dim // heads)  # rms_final; freq_cis_real and _imag, unused
    if not shared:
        n += vocab * dim
    return V0_HEADER_SIZE + 4 * n


def layout(cfg, shared):
    """Tensor table (offset, F32, 0, 0) x fileformat.n_tensors(n_layers); the
    caller has checked the file's size (file_bytes) and that it is below 2 GiB."""
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = cfg
    sizes = _sizes(cfg)
    # Tensors are stored all layers at a time: every rms_att, then every wq...
    starts = {}
    off = V0_HEADER_SIZE
    for name in ("embedding",) + LAYER_TENSORS:
        starts[name] = off
        off += sizes[name] * 4 * (1 if name == "embedding" else layers)
    rms_final = off
    off += dim * 4
    off += seq_len * (dim // heads) * 4
    classifier = starts["embedding"] if shared else off
    entries = [starts["embedding"], F32, 0, 0]
    for l in range(layers):
        for name in LAYER_TENSORS:
            entries += (starts[name] + l * sizes[name] * 4, F32, 0, 0)
    entries += (rms_final, F32, 0, 0, classifier, F32, 0, 0)
    return array("i", entries)
