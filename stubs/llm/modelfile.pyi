from . import llama2 as llama2

MAGIC: bytes
VERSION: int
HEADER_SIZE: int
HEADER_FORMAT: str
ALIGN: int
FLAG_SHARED_CLASSIFIER: int

def is_model_file(head): ...
def read_layout(f, path, size):
    """Check the header and return (config, table, tokenizer (offset, size, index offset))."""
