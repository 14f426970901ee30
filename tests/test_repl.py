"""llm.repl on the host firmware, driven through stdin (a pipe) and a terminal
(a pty): its commands, their errors, the tok/s line after each story, and
/continue, whose tokens must be those of one longer generation.

Expected texts come from the firmware's own generate()/tokens(), which
tests/test_generate.py holds to llama2.c token for token.
"""
import json
import os
import re
import time

import numpy as np
import pytest

import mpy
from devicetools import firmware_on_pty, read_until, type_line
from host import llama2

STATS = re.compile(rb"\[(\d+) tokens, (\d+\.\d) tok/s\]|\[(\d+) tokens in under 1 ms\]")


@pytest.fixture(scope="module")
def s260(firmware, stories260k_path, tok512_path):
    return stories260k_path, tok512_path


def shown(pieces):
    """What the REPL writes for these raw pieces: each as it is, except a lone
    control byte (not \\t..\\r), which it skips."""
    return b"".join(p for p in pieces
                    if not (len(p) == 1 and (p[0] < 0x20 and not 0x09 <= p[0] <= 0x0D or p[0] == 0x7F)))


def repl(model, lines, load="", settings="steps=40, temperature=0", timeout=120):
    """Run llm.repl with these input lines; returns (list of (line, output) in
    order, stderr, whether the loop read to the end of input)."""
    ckpt, tok = model
    code = ("import llm\nm = llm.load(%r, %r%s)\nllm.repl(m, %s)\nprint('REPL-DONE')\n"
            % (ckpt, tok, load, settings))
    p = mpy.run(code, input="".join(line + "\n" for line in lines), timeout=timeout)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out = p.stdout
    assert out.endswith(b"REPL-DONE\n"), out[-500:]
    out = out[:-len(b"REPL-DONE\n")]
    # End of input at the prompt: the loop prints a newline and leaves.
    at_eof = out.endswith(b"\n> \n")
    if at_eof:
        out = out[:-len(b"> \n")]
    # input() echoes each line after its "> "; what follows, up to the next
    # prompt, is that line's output.
    pos = out.index(b"\n> ") + 1
    turns = []
    for i, line in enumerate(lines):
        echo = b"> " + line.encode() + b"\r\n"
        assert out.startswith(echo, pos), (line, out[pos:pos + 200])
        start = pos + len(echo)
        nxt = out.find(b"> " + lines[i + 1].encode() + b"\r\n", start) if i + 1 < len(lines) else -1
        end = nxt if nxt >= 0 else len(out)
        turns.append((line, out[start:end]))
        pos = end
        if nxt < 0:
            break
    return turns, p.stderr.decode(errors="replace"), at_eof


def story_and_stats(output):
    """Split a story's output into (text, tokens): the text, then a newline,
    then the stats line."""
    m = list(STATS.finditer(output))
    assert m, output[-300:]
    last = m[-1]
    assert output[last.end():] == b"\n", output[last.end():]
    head = output[:last.start()]
    assert head.endswith(b"\n"), head[-100:]
    return head[:-1], int(last.group(1) or last.group(3))


def pieces(model, calls, load=""):
    """Raw pieces of each (prompt, steps, temperature, top_p, seed) generation,
    each from a fresh model."""
    ckpt, tok = model
    code = "import llm\nout = []\n"
    for c in calls:
        code += ("m = llm.load(%r, %r%s)\n"
                 "out.append([bytes(m.tokenizer.decode(a, b)).hex() for a, b in m.tokens(*%r)])\n"
                 % (ckpt, tok, load, tuple(c)))
    code += "import json\nprint(json.dumps(out))\n"
    p = mpy.run(code)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return [[bytes.fromhex(h) for h in one] for one in json.loads(p.stdout.decode().splitlines()[-1])]


# ---------------------------------------------------------------------------------------------
# commands

def test_help_lists_every_command_and_the_settings(s260):
    turns, _, _ = repl(s260, ["/help"], settings="steps=40, temperature=0.5, top_p=0.8, seed=3")
    text = turns[0][1].decode()
    for command in ("/temp X", "/topp X", "/steps N", "/seed N", "/continue", "/help", "/quit"):
        assert "\n  " + command in text
    assert text.endswith("\nnow: temperature 0.5, top-p 0.8, steps 40, seed 3\n")


def test_bad_values_say_so_and_change_nothing(s260):
    bad = ["/temp abc", "/temp nan", "/temp", "/topp nan", "/topp x", "/steps 2.5", "/steps", "/seed x",
           "/seed 1.5", "/seed", "/seed %d" % (1 << 64), "/seed %d" % (7 << 64), "/seed %d" % (-(1 << 63) - 1)]
    turns, _, _ = repl(s260, ["/help"] + bad + ["/help", "Once upon a time"],
                       settings="steps=30, temperature=0, top_p=0.9, seed=5")
    value = {"/temp": "0", "/topp": "0.9", "/steps": "30", "/seed": "5"}
    before = turns[0][1].decode().splitlines()[-1]
    assert before == "now: temperature 0, top-p 0.9, steps 30, seed 5"
    for line, output in turns[1:-2]:
        text = output.decode()
        assert text.count("\n") == 1, (line, text)
        name, arg = (line.split(None, 1) + [""])[:2]
        assert text.startswith(name + " takes "), (line, text)
        assert ("not %r: " % arg) in text and text.endswith(" unchanged (%s)\n" % value[name]), (line, text)
    assert turns[-2][1].decode().splitlines()[-1] == before
    story, n = story_and_stats(turns[-1][1])
    want, = pieces(s260, [("Once upon a time", 30, 0, 0.9, 5)])
    assert story == shown(want) and n == len(want) == 30


def test_good_values_apply_to_the_next_story(s260):
    lines = ["/temp 1.2", "/topp 0.95", "/steps 33", "/seed 42", "/help", "Once upon a time"]
    turns, _, _ = repl(s260, lines)
    assert [t[1].decode() for t in turns[:4]] == ["temperature 1.2\n", "top-p 0.95\n", "steps 33\n", "seed 42\n"]
    assert turns[4][1].decode().splitlines()[-1] == "now: temperature 1.2, top-p 0.95, steps 33, seed 42"
    story, n = story_and_stats(turns[5][1])
    want, greedy, other_seed = pieces(s260, [("Once upon a time", 33, 1.2, 0.95, 42),
                                             ("Once upon a time", 33, 0, 0.9, 0),
                                             ("Once upon a time", 33, 1.2, 0.95, 43)])
    assert story == shown(want) and n == 33
    # The settings make differences that the comparison above sees.
    assert want != greedy and want != other_seed


def test_out_of_range_values_take_the_apis_meaning(s260):
    """The REPL uses the API's rule (llm.model.sampling), and says what a value became."""
    lines = ["/temp -1", "/temp inf", "/topp 1.5", "/topp -0.1", "/steps 0", "/steps 513", "/seed -5",
             "/temp -3", "/topp 2", "/steps 30", "/seed 5", "Once upon a time"]
    turns, _, _ = repl(s260, lines, settings="steps=40, temperature=0.5, top_p=0.5, seed=9")
    assert [t[1].decode() for t in turns[:7]] == [
        "temperature 0.0 (from -1)\n", "temperature inf\n", "top-p 0.9 (from 1.5)\n", "top-p 0.9 (from -0.1)\n",
        "steps 512 (from 0)\n", "steps 512 (from 513)\n", "seed %d (from -5)\n" % ((1 << 64) - 5)]
    story, n = story_and_stats(turns[-1][1])
    want, = pieces(s260, [("Once upon a time", 30, 0, 0.9, 5)])
    assert story == shown(want) and n == 30


def test_seed_zero_means_the_clock(s260):
    turns, _, _ = repl(s260, ["/seed 0", "/help"], settings="steps=40, seed=9")
    assert turns[0][1] == b"seed clock\n"
    assert turns[1][1].decode().splitlines()[-1].endswith("seed clock")


def test_unknown_command_quit_and_empty_line(s260):
    turns, _, at_eof = repl(s260, ["/frobnicate 3", "/quit", "Once upon a time"])
    assert turns[0][1] == b"unknown command /frobnicate; /help lists the commands\n"
    # /quit left at once: the prompt after it was never read.
    assert turns[1][1] == b"" and len(turns) == 2 and not at_eof
    turns, _, at_eof = repl(s260, ["", "Once upon a time"])
    assert turns[0][1] == b"" and len(turns) == 1 and not at_eof
    turns, _, at_eof = repl(s260, ["/help"])
    assert at_eof


# ---------------------------------------------------------------------------------------------
# the tok/s line

def test_each_story_ends_with_its_tokens_and_rate(s260):
    turns, _, _ = repl(s260, ["Once upon a time", "The cat", "/continue"], settings="steps=300, temperature=0")
    want = pieces(s260, [("Once upon a time", 300, 0, 0.9, 0), ("The cat", 300, 0, 0.9, 0)])
    for (line, output), w in zip(turns, want):
        story, n = story_and_stats(output)
        assert story == shown(w)
        assert n == len(w)  # positions, prompt included: all 300, or fewer when the model ended the story
        rate = STATS.search(output).group(2)
        assert rate is None or float(rate) > 0
    assert len(want[1]) < 300  # "The cat" ends with BOS: its count is not just the steps


# ---------------------------------------------------------------------------------------------
# /continue

@pytest.mark.parametrize("temperature,top_p,seed", [(0, 0.9, 0), (1.0, 0.9, 42), (0.8, 0.5, 7)])
def test_continue_gives_the_tokens_of_one_longer_generation(s260, temperature, top_p, seed):
    prompt = "Once upon a time"
    lines = [prompt, "/steps 35", "/continue", "/steps 7", "/c"]
    turns, _, _ = repl(s260, lines, settings="steps=20, temperature=%r, top_p=%r, seed=%r" % (temperature, top_p, seed))
    first, n1 = story_and_stats(turns[0][1])
    more, n2 = story_and_stats(turns[2][1])
    last, n3 = story_and_stats(turns[4][1])
    assert (n1, n2, n3) == (20, 35, 7)
    short, long = pieces(s260, [(prompt, 20, temperature, top_p, seed), (prompt, 62, temperature, top_p, seed)])
    assert first == shown(short)
    assert first + more + last == shown(long)
    assert not more.startswith(prompt.encode())  # the prompt is not read or shown again


def test_resume_tokens_match_one_longer_generation(s260):
    # Token ids, at the API: inside the prompt, at its end, while sampling, with an int8 KV cache.
    ckpt, tok = s260
    res = mpy.snippet(r'''
import llm
out = []
for kv, prompt, a, b, t, p, s in [("f32", "Once upon a time there was", 3, 30, 0, 0.9, 0),
                                   ("f32", "Once upon a time", 5, 40, 0, 0.9, 0),
                                   ("f32", "Once upon a time", 12, 50, 1.0, 0.9, 123),
                                   ("int8", "Lily", 9, 25, 0.7, 0.6, 5)]:
    m = llm.load(%r, %r, kv=kv)
    split = list(m.tokens(prompt, a, t, p, s)) + list(m.resume_tokens(b, t, p))
    rate = m.tokens_per_second
    whole = list(m.tokens(prompt, a + b, t, p, s))
    out.append([split == whole, len(whole) == a + b, rate > 0])
emit("out", out)
''' % (ckpt, tok))
    assert res["out"] == [[True, True, True]] * 4


def test_continue_until_the_context_is_full(s260):
    lines = ["Once upon a time", "/continue", "/continue", "Once upon a time"]
    turns, err, _ = repl(s260, lines, load=", ctx=24", settings="steps=16, temperature=0")
    first, n1 = story_and_stats(turns[0][1])
    more, n2 = story_and_stats(turns[1][1])
    assert (n1, n2) == (16, 8)
    assert err.count("the 24-token context is full") == 1  # said once, when the continuation hit it
    assert turns[2][1] == b"/continue: the 24-token context is full; type a prompt\n"
    again, n4 = story_and_stats(turns[3][1])
    short, full = pieces(s260, [("Once upon a time", 16, 0, 0.9, 0), ("Once upon a time", 24, 0, 0.9, 0)],
                         load=", ctx=24")
    assert first == again == shown(short) and first + more == shown(full) and n4 == 16


def test_continue_is_refused_without_a_story_or_after_its_end(s260):
    turns, _, _ = repl(s260, ["/continue", "The cat", "/continue"], settings="steps=400, temperature=0")
    assert turns[0][1] == b"/continue: there is no story to continue; type a prompt\n"
    story, n = story_and_stats(turns[1][1])
    assert n < 400  # the model ended this story (BOS)
    assert turns[2][1] == b"/continue: the story has ended: the model began a new one; type a prompt\n"
    ckpt, tok = s260
    res = mpy.snippet('''
import llm
m = llm.load(%r, %r)
emit("none", catch(m.resume_tokens, 5))
list(m.tokens("The cat", 400, 0))
emit("bos", [m.stop_reason] + catch(m.resume_tokens, 5))
m = llm.load(%r, %r, ctx=8)
list(m.tokens("Once upon a time", 8, 0))
emit("full", catch(m.resume_tokens, 5))
''' % (ckpt, tok, ckpt, tok))
    assert res["none"] == ["ValueError", "there is no story to continue"]
    assert res["bos"] == ["bos", "ValueError", "the story has ended: the model began a new one"]
    assert res["full"] == ["ValueError", "the 8-token context is full"]


# ---------------------------------------------------------------------------------------------
# Ctrl-C on a terminal, then /continue

@pytest.fixture(scope="module")
def slow_model(tmp_path_factory, tok512_path):
    """A random model with stories15M's shape and tok512's vocabulary: slow
    enough on the host to be stopped mid-story.  Its seed gives 512 greedy
    tokens from "Once upon a time" without a BOS, so a story runs until
    stopped."""
    path = str(tmp_path_factory.mktemp("slow") / "r15.bin")
    config = dict(dim=288, hidden_dim=768, n_layers=6, n_heads=6, n_kv_heads=6, vocab_size=512, seq_len=512)
    cfg, w = llama2.random_weights(config, shared=True, seed=7)
    # A smaller embedding keeps the shared classifier from repeating the input token.
    w["token_embedding_table"] = (0.1 * w["token_embedding_table"]).astype(np.float32)
    w["wcls"] = w["token_embedding_table"]
    llama2.write_checkpoint(path, cfg, w, shared=True)
    return path, tok512_path


def test_ctrl_c_mid_story_then_continue(firmware, slow_model):
    ckpt, tok = slow_model
    code = ("import llm\nm = llm.load(%r, %r)\nllm.repl(m, steps=512, temperature=0)\nprint('REPL-DONE')\n"
            % (ckpt, tok))
    # Bytes as written (no \r added, no ^C echoed), and the Ctrl-C must not flush
    # story bytes not yet read.
    with firmware_on_pty(firmware, code, bytes_as_written=True) as fd:  # as a user runs it
        out = read_until(fd, b"> ", 60)
        type_line(fd, b"Once upon a time")
        out = read_until(fd, b"Once upon a time\r\nOnce", 30, out)
        time.sleep(0.3)  # mid-story: 512 positions of this model take seconds
        os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT
        out = read_until(fd, b"tok/s]\n> ", 30, out)
        type_line(fd, b"/steps 40")
        out = read_until(fd, b"steps 40\n> ", 30, out)
        type_line(fd, b"/continue")
        mark = len(out)
        out = read_until(fd, b"tok/s]\n> ", 60, out, since=mark)
        type_line(fd, b"")
        out = read_until(fd, b"REPL-DONE", 30, out)
    assert b"Traceback" not in out
    m = re.search(rb"Once upon a time\r\n(Once upon a time.*)\n\[stopped\]\n\[(\d+) tokens", out, re.S)
    assert m, out[-2000:]
    before, n = m.group(1), int(m.group(2))
    assert 0 < n < 512  # stopped mid-story, not finished before the Ctrl-C
    m = re.search(rb"/continue\r\n(.*)\n\[(\d+) tokens, [^\n]*\]\n> ", out, re.S)
    assert m, out[-2000:]
    more = m.group(1)
    assert int(m.group(2)) == 40
    want, = pieces(slow_model, [("Once upon a time", n + 40, 0, 0.9, 0)])
    assert len(want) == n + 40
    got, expected = before + more, shown(want)
    at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    assert got == expected, "n %d, %d bytes before the Ctrl-C; first difference at %d: got %r, want %r" % (
        n, len(before), at, got[max(0, at - 40):at + 40], expected[max(0, at - 40):at + 40])


# ---------------------------------------------------------------------------------------------
# Ctrl-C anywhere in a turn ends that turn, never the REPL

def test_ctrl_c_just_after_a_story_keeps_the_repl(s260):
    # The unix firmware raises KeyboardInterrupt at any instruction; this one
    # lands after the story's last token, where the tok/s line is worked out.
    ckpt, tok = s260
    code = ("import sys, llm\nr = sys.modules['llm.repl']\ncalls = [0]\nticks = r._ticks_ms\n"
            "def late():\n    calls[0] += 1\n    if calls[0] == 2:\n        raise KeyboardInterrupt\n    return ticks()\n"
            "r._ticks_ms = late\nm = llm.load(%r, %r)\nllm.repl(m, steps=20, temperature=0)\nprint('REPL-DONE')\n"
            % (ckpt, tok))
    p = mpy.run(code, input=b"Once upon a time\n/steps 12\nThe cat\n")
    assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr.decode(errors="replace")
    out = p.stdout
    assert out.endswith(b"REPL-DONE\n"), out[-300:]
    assert b"> /steps 12\r\nsteps 12\n" in out
    want, = pieces(s260, [("The cat", 12, 0, 0.9, 0)])
    assert shown(want) + b"\n[12 tokens" in out


def test_ctrl_c_at_the_prompt_clears_the_line(firmware, s260):
    ckpt, tok = s260
    code = ("import llm\nm = llm.load(%r, %r)\nllm.repl(m, steps=12, temperature=0)\nprint('REPL-DONE')\n"
            % (ckpt, tok))
    with firmware_on_pty(firmware, code, bytes_as_written=True) as fd:
        out = read_until(fd, b"> ", 60)
        mark = len(out)
        type_line(fd, b"Once upon", end=b"")
        out = read_until(fd, b"Once upon", 30, out, since=mark)
        os.write(fd, b"\x03")  # in raw mode: a byte input() reads, not SIGINT
        mark = len(out)
        out = read_until(fd, b"> ", 30, out, since=mark)
        type_line(fd, b"The cat")
        out = read_until(fd, b"tok/s]\n> ", 60, out, since=mark)
        type_line(fd, b"/quit")
        out = read_until(fd, b"REPL-DONE", 30, out)
    assert b"Traceback" not in out, out[-1000:]
    want, = pieces(s260, [("The cat", 12, 0, 0.9, 0)])
    assert b"The cat\r\n" + shown(want) + b"\n[12 tokens" in out, out[-1000:]
    # The half-typed line never ran.
    assert b"Once upon\r\nOnce upon" not in out


def test_a_line_typed_while_the_model_loads_is_kept(firmware, s260):
    # The wait stands for a slow load: the line is typed in the terminal's
    # ordinary (cooked) mode and waits there until the REPL starts.
    ckpt, tok = s260
    code = ("import llm, select, sys\nm = llm.load(%r, %r)\nprint('LOADING')\n"
            "p = select.poll()\np.register(sys.stdin, select.POLLIN)\np.poll(-1)\n"
            "llm.repl(m, steps=12, temperature=0)\nprint('REPL-DONE')\n" % (ckpt, tok))
    with firmware_on_pty(firmware, code, bytes_as_written=True) as fd:
        out = read_until(fd, b"LOADING", 60)
        os.write(fd, b"The cat\r")
        out = read_until(fd, b"\n> ", 60, out)
        type_line(fd, b"/quit")  # at the first prompt in raw mode
        out = read_until(fd, b"REPL-DONE", 60, out)
    assert b"Traceback" not in out, out[-1000:]
    want, = pieces(s260, [("The cat", 12, 0, 0.9, 0)])
    assert b"> The cat\r\n" + shown(want) + b"\n[12 tokens" in out, out[-1000:]
