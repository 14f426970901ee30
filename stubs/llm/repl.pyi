from .fileformat import SEQ_LEN as SEQ_LEN
from .model import Model as Model, context_full_message as context_full_message, sampling as sampling
from typing import Any, Iterator

MYPY: bool
HELP: str

class _Session:
    model: Model
    steps: int
    temperature: float
    top_p: float
    seed: int | None
    out: Any
    started: bool
    shown: int
    unshown: bytes
    def __init__(self, model: Model, steps: int, temperature: float, top_p: float, seed: int | None) -> None: ...
    def settings(self) -> str: ...
    def run(self, pairs: Iterator[tuple[int, int]], first: int) -> None: ...
    def story(self, prompt: str) -> None: ...
    def resume(self) -> None: ...
    def setting(self, name: str, arg: str) -> None: ...
    def command(self, line: str) -> bool:
        """Do one /command; False means leave."""

def repl(model: Model, steps: int = 256, temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None) -> None:
    """Prompt, generate, repeat; /help lists the commands that change the
    settings or continue the last story.  Each story ends with its tokens
    and tokens per second.  Ctrl-C stops the current story and returns to
    the prompt; an empty line, /quit or Ctrl-D leaves."""
