from .model import Model as Model

MYPY: bool

def repl(model: Model, steps: int = 256, temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None) -> None:
    """Prompt, generate, repeat.  Ctrl-C stops the current generation and
    returns to the prompt; an empty line or Ctrl-D leaves."""
