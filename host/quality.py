"""Quality of a model file on the host firmware: teacher-forced perplexity
over a text, and the greedy tokens (to count agreement with fp32)."""
from host import firmware

_PERPLEXITY = """
import llm, math, json
m = llm.load(%(model)r, ctx=%(ctx)r, kv=%(kv)r)
tokens = m.tokenizer.encode(%(text)r)[:%(ctx)r]
nll = 0.0
for pos in range(len(tokens) - 1):
    logits = m.forward(tokens[pos], pos)
    top = max(logits)
    total = 0.0
    for v in logits:
        total += math.exp(v - top)
    nll += top + math.log(total) - logits[tokens[pos + 1]]
print(json.dumps([math.exp(nll / (len(tokens) - 1)), len(tokens) - 1]))
"""

_GREEDY = """
import llm, json
m = llm.load(%(model)r, kv=%(kv)r)
print(json.dumps([t for _, t in m.tokens(%(prompt)r, steps=%(steps)r, temperature=0)]))
"""


def perplexity(model, text, kv="f32", ctx=None):
    """(perplexity, number of predicted tokens) of text under model."""
    if ctx is None:
        ctx = 512
    return tuple(firmware.run_code(_PERPLEXITY % {"model": model, "text": text, "kv": kv, "ctx": ctx}))


def greedy_tokens(model, prompt="", steps=256, kv="f32"):
    return firmware.run_code(_GREEDY % {"model": model, "kv": kv, "prompt": prompt, "steps": steps})


def agreement(a, b):
    """Number of leading tokens that two generations share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
