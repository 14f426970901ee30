# The .llm model file (docs/format.md): a 64-byte header, the tensor table,
# the raw tokenizer.bin with a stored lookup index, and 16-byte aligned
# tensors (float32, or int8 with half-precision group scales).
import struct
from array import array

from . import llama2
from .fileformat import (ALIGN, HEADER_FORMAT, HEADER_SIZE, MAGIC, N_LAYERS, OLDEST_VERSION, Q4, Q8, TABLE_ENTRY_SIZE,
                         VERSION, VOCAB_SIZE, n_tensors)


def is_model_file(head):
    return head[:4] == MAGIC


def read_layout(f, path, size):
    """Check the header and return (config, table, tokenizer (offset, size, index offset))."""
    data = f.read(HEADER_SIZE)
    if data is None or len(data) != HEADER_SIZE:
        raise ValueError("%s: too short for a .llm header" % path)
    fields = struct.unpack(HEADER_FORMAT, data)
    magic, version, header_size = fields[:3]
    if magic != MAGIC:
        raise ValueError("%s: not a .llm file" % path)
    if not OLDEST_VERSION <= version <= VERSION:
        # Version 1 is version 2 without padded rows, so both read alike.
        raise ValueError("%s: .llm version %d is not supported (this firmware reads versions %d to %d);"
                         " re-convert the model with this release's python3 -m host convert"
                         % (path, version, OLDEST_VERSION, VERSION))
    if header_size != HEADER_SIZE:
        raise ValueError("%s: header size %d, expected %d" % (path, header_size, HEADER_SIZE))
    config = tuple(fields[3:10])
    llama2.check_config(config, path)
    flags, table_off, tok_off, tok_size, index_off, file_size = fields[10:]
    if size >= 1 << 31:
        raise ValueError("%s: %d bytes is beyond the 2 GiB this firmware addresses" % (path, size))
    if file_size != size:
        raise ValueError("%s: file has %d bytes but its header says %d (truncated or a partial copy?)"
                         % (path, size, file_size))
    entries = n_tensors(config[N_LAYERS])
    vocab = config[VOCAB_SIZE]
    for what, off, length in (("tensor table", table_off, TABLE_ENTRY_SIZE * entries),
                              ("tokenizer", tok_off, tok_size),
                              ("tokenizer index", index_off, 8 * vocab)):
        if off < HEADER_SIZE or off % 4 or length < 0 or off + length > size:
            raise ValueError("%s: %s at offset %d, %d bytes, lies outside the %d-byte file"
                             % (path, what, off, length, size))
    f.seek(table_off)
    raw = f.read(TABLE_ENTRY_SIZE * entries)
    if raw is None or len(raw) != TABLE_ENTRY_SIZE * entries:
        raise ValueError("%s: tensor table truncated" % path)
    table = array("i", raw)
    for i in range(entries):
        off, kind, gs, soff = table[4 * i:4 * i + 4]
        if off % ALIGN or ((kind == Q8 or kind == Q4) and soff % ALIGN):
            raise ValueError("%s: tensor %d is not %d-byte aligned (offset %d)" % (path, i, ALIGN, off))
    kinds = [table[i + 1] for i in range(0, len(table), 4)]
    weights_type = "int4" if Q4 in kinds else ("int8" if Q8 in kinds else "f32")
    return config, table, (tok_off, tok_size, index_off), weights_type
