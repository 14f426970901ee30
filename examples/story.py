# A story at the board's REPL or on the host firmware:
#   mpremote connect PORT run examples/story.py
#   build/micropython examples/story.py
import llm

MODEL = "/rom/stories260K_int8.llm"  # deployed with `make deploy PORT=...`


def main(path: str = MODEL, prompt: str = "Once upon a time") -> None:
    m = llm.load(path, ctx=256, kv="int8")
    for piece in m.stream(prompt, steps=200, temperature=0.8, top_p=0.9, seed=42):
        print(piece, end="")
    print()
    print("%.1f tok/s" % m.tokens_per_second)


main()
