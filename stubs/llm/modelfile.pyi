from . import llama2 as llama2
from .fileformat import ALIGN as ALIGN, HEADER_FORMAT as HEADER_FORMAT, HEADER_SIZE as HEADER_SIZE, MAGIC as MAGIC, N_LAYERS as N_LAYERS, OLDEST_VERSION as OLDEST_VERSION, Q4 as Q4, Q8 as Q8, TABLE_ENTRY_SIZE as TABLE_ENTRY_SIZE, VERSION as VERSION, VOCAB_SIZE as VOCAB_SIZE, n_tensors as n_tensors

def is_model_file(head): ...
def read_layout(f, path, size):
    """Check the header and return (config, table, tokenizer (offset, size, index offset))."""
