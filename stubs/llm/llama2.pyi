from _typeshed import Incomplete

HEADER: int
F32: int
Q8: int
CONFIG_NAMES: Incomplete

def check_config(cfg, what) -> None: ...
def read_header(f, path): ...
def layout(cfg, shared):
    """Tensor table (offset, F32, 0, 0) x (3 + 9 * n_layers) and file size."""
