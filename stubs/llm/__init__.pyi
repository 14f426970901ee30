from .model import Model as Model, info as info, load as load
from .repl import repl as repl
from _llm import threads as threads

__all__ = ['threads', 'Model', 'load', 'info', 'repl']
