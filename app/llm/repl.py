# An interactive loop: type a prompt, watch the story stream out.
import sys


def repl(model, steps=256, temperature=1.0, top_p=0.9, seed=None):
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
