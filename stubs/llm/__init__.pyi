from .bench import bench as bench
from .model import Model as Model, load as load, print_info as print_info
from .repl import repl as repl
from _llm import threads as threads

__all__ = ['threads', 'bench', 'Model', 'load', 'print_info', 'repl']
