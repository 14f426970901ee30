# An interactive loop: type a prompt, watch the story stream out.
import sys

MYPY = False
if MYPY:  # type checkers only
    from typing import Optional

    from .model import Model


def repl(model: 'Model', steps: int = 256, temperature: float = 1.0, top_p: float = 0.9,
         seed: 'Optional[int]' = None) -> None:
    """Prompt, generate, repeat.  Ctrl-C stops the current generation and
    returns to the prompt; an empty line or Ctrl-D leaves."""
    print("llm: type a prompt and press Enter; Ctrl-C stops a story; an empty line quits.")
    while True:
        try:
            prompt = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not prompt:
            return
        try:
            for text in model.stream(prompt, steps, temperature, top_p, seed):
                sys.stdout.write(text)
            sys.stdout.write("\n")
        except KeyboardInterrupt:
            sys.stdout.write("\n[stopped]\n")
