# A story, on a board or on the host firmware.
#
# On a board, after `make deploy PORT=...` put the model into ROMFS:
#   mpremote connect PORT run examples/story.py
# On the host, from the repository's top directory, after `make run` (models/):
#   python3 -m host convert models/stories260K.bin models/tok512.bin build/stories260K_int8.llm --int8
#   build/micropython examples/story.py build/stories260K_int8.llm
import os
import sys

import llm

BOARD_MODEL = "/rom/stories260K_int8.llm"


def main(path: str, prompt: str = "Once upon a time") -> None:
    m = llm.load(path, ctx=256, kv="int8")
    for piece in m.stream(prompt, steps=200, temperature=0.8, top_p=0.9, seed=42):
        print(piece, end="")
    print()
    print("%.1f tok/s" % m.tokens_per_second)


def model_path() -> str:
    if len(sys.argv) > 1:  # the host firmware: the path given after the script
        return sys.argv[1]
    try:
        os.stat(BOARD_MODEL)
    except OSError:
        print("no %s: deploy it (make deploy PORT=...), or on the host give the model's path:"
              " build/micropython examples/story.py MODEL.llm" % BOARD_MODEL)
        sys.exit(1)
    return BOARD_MODEL


main(model_path())
