"""Tiny LLMs on MicroPython: llama2.c checkpoints run by the _llm C module.

    import llm
    m = llm.load("stories260K.bin", "tok512.bin")
    print(m.generate("Once upon a time", steps=64, temperature=0))
    llm.repl(m)
"""

from _llm import threads

from .bench import bench
from .model import Model, load, print_info
from .repl import repl

__all__ = ["Model", "bench", "load", "print_info", "repl", "threads"]
__version__ = "0.1.0"
