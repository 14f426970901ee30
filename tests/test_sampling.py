"""One rule for the sampling parameters (llm.model.sampling): the API checks them
when tokens(), pieces(), stream(), generate() or resume_tokens() is called,
before any token is made, and the command line and the REPL use the same rule.

Every expected value comes from the firmware itself: an out-of-range value must
give what its in-range meaning gives, and that must differ from what the value
would give if nothing normalised it.
"""
import pytest

import mpy


@pytest.fixture(scope="module")
def s260(firmware, stories260k_path, tok512_path):
    return stories260k_path, tok512_path


EAGER = r'''
import llm
m = llm.load(%r, %r)
nan = float("nan")
bad = [("temperature", dict(temperature=nan)), ("top_p", dict(top_p=nan)),
       ("temperature", dict(temperature="1")), ("steps", dict(steps=2.5)),
       ("seed", dict(seed=1 << 64)), ("seed", dict(seed=5 << 64)), ("seed", dict(seed=-(1 << 63) - 1)),
       ("seed", dict(seed=1.5))]
for method in ("tokens", "pieces", "stream", "generate"):
    for what, kw in bad:
        # Only the call: no next().  A generator function would not raise here.
        emit("%%s %%s %%r" %% (method, what, sorted(kw.items())), catch(getattr(m, method), "Once", **kw))
m.generate("Once", steps=10, temperature=0)
for what, kw in bad:
    kw = dict(kw)
    kw.pop("seed", None)
    if kw:
        emit("resume %%s %%r" %% (what, sorted(kw.items())), catch(m.resume_tokens, **kw))
emit("resume still possible", list(m.resume_tokens(steps=2, temperature=0)) != [])
'''


def test_bad_values_raise_at_the_call(s260):
    res = mpy.snippet(EAGER % s260).results
    assert len(res) == 4 * 8 + 4 + 1
    for key, value in res.items():
        if key == "resume still possible":
            assert value is True
            continue
        what = key.split()[1]
        assert value[0] in ("ValueError", "TypeError"), (key, value)
        assert what in value[1], (key, value)
    assert res["tokens seed [('seed', %d)]" % (1 << 64)] == [
        "ValueError", "seed must be from -2**63 to 2**64 - 1 (llama2.c's 64-bit seed), not %d" % (1 << 64)]


SAME = r'''
import llm
m = llm.load(%r, %r)
def g(**kw):
    args = dict(steps=40, temperature=1.0, top_p=0.9, seed=7)
    args.update(kw)
    return m.generate("Once upon a time", **args)
emit("greedy", g(temperature=0))
emit("t-1", g(temperature=-1))
emit("t-inf", g(temperature=-float("inf")))
emit("p0.9", g())
emit("p1.5", g(top_p=1.5))
emit("p-0.5", g(top_p=-0.5))
emit("p1", g(top_p=1.0))
emit("p0", g(top_p=0.0))
emit("steps-max", g(steps=256, temperature=0))
emit("steps0", g(steps=0, temperature=0))
emit("stepsNone", g(steps=None, temperature=0))
emit("steps-3", g(steps=-3, temperature=0))
emit("steps40", g(steps=40, temperature=0))
emit("seed-5", g(seed=-5))
emit("seed2**64-5", g(seed=(1 << 64) - 5))
emit("seed5", g(seed=5))
emit("seed-2**63", g(seed=-(1 << 63)))
emit("seed2**63", g(seed=1 << 63))
'''


def test_out_of_range_values_take_llama2c_meanings(s260):
    r = mpy.snippet(SAME % s260).results
    # temperature below 0 is greedy, and greedy differs from temperature 1.
    assert r["t-1"] == r["t-inf"] == r["greedy"] != r["p0.9"]
    # top_p outside [0, 1] is 0.9, which differs from what 1.5 (no cut) or
    # -0.5 (only the likeliest token) would give as they are.
    assert r["p1.5"] == r["p-0.5"] == r["p0.9"]
    assert r["p1"] != r["p0.9"] and r["p0"] != r["p0.9"]
    # steps None, 0 or negative: the whole context (stories260K: seq_len 512,
    # the story ends before that with a BOS).
    assert r["steps0"] == r["stepsNone"] == r["steps-3"]
    assert len(r["steps0"]) > len(r["steps40"])
    # A negative seed is taken modulo 2**64, and it is a seed, not the clock.
    assert r["seed-5"] == r["seed2**64-5"] != r["seed5"]
    assert r["seed-2**63"] == r["seed2**63"] != r["greedy"]


RESUME_RNG = r'''
import llm
m = llm.load(%r, %r)
whole = list(m.tokens("Once upon a time", steps=60, temperature=1.0, top_p=0.9, seed=11))

class Interrupted:
    """The model's core, with a KeyboardInterrupt landing just after the
    n-th draw, as Ctrl-C can on the unix firmware (it raises at any
    instruction): the random state has moved on, the token is lost."""
    def __init__(self, core, n):
        self.core, self.n = core, n
    def forward(self, token, pos):
        self.core.forward(token, pos)
    def sample(self, *args):
        token = self.core.sample(*args)
        self.n -= 1
        if self.n == 0:
            raise KeyboardInterrupt
        return token

core = m._core
m._core = Interrupted(core, 20)
part = []
try:
    for pair in m.tokens("Once upon a time", steps=60, temperature=1.0, top_p=0.9, seed=11):
        part.append(pair)
except KeyboardInterrupt:
    pass
m._core = core
rest = list(m.resume_tokens(steps=60 - len(part), temperature=1.0, top_p=0.9))
emit("whole", whole)
emit("part", part)
emit("joined", part + rest)
'''


def test_resume_after_an_interrupt_between_draw_and_store_gives_one_longer_story(s260):
    r = mpy.snippet(RESUME_RNG % s260).results
    assert 5 < len(r["part"]) < len(r["whole"])
    assert r["joined"] == r["whole"]


@pytest.mark.parametrize("flags,message", [
    (["-s", str(1 << 64)], b"seed must be from -2**63 to 2**64 - 1"),
    (["-s", str(3 << 64)], b"seed must be from -2**63 to 2**64 - 1"),
    (["-t", "nan"], b"temperature must be a number, not nan"),
    (["-p", "nan"], b"top_p must be a number, not nan"),
])
def test_the_command_line_uses_the_same_rule(s260, flags, message):
    p = mpy.cli(s260[0], "-z", s260[1], "-n", "10", *flags)
    assert p.returncode == 1 and p.stdout == b""
    assert p.stderr.startswith(b"error: " + message) and b"Usage:" in p.stderr, p.stderr


def test_the_command_line_clamps_as_the_api_does(s260):
    def run(*flags):
        p = mpy.cli(s260[0], "-z", s260[1], "-n", "40", "-s", "7", "-i", "Once upon a time", *flags)
        assert p.returncode == 0, p.stderr
        return p.stdout
    api = mpy.snippet("import llm\nm = llm.load(%r, %r)\nemit('g', m.generate('Once upon a time', 40, 1.0, 1.5, 7))"
                      % s260).results["g"]
    assert run("-p", "1.5") == run("-p", "0.9") != run("-p", "1")
    assert run("-p", "1.5").decode().rstrip("\n") == api.rstrip("\n")
