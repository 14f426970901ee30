"""The two-core split (pthreads backend on the unix firmware) gives results
bit-identical to one core: every output row and head is computed by the
same code, only on another thread."""
import pytest

from host import convert, firmware, llama2

COMPARE = """
import llm, _llm, json, binascii
m = llm.load(%(path)r, kv=%(kv)r)
def run():
    out = []
    for pos, tok in enumerate([1, 5, 77, 300, 2, 9, 123, 42, 7, 8, 250, 99]):
        out.append(binascii.hexlify(bytes(m.forward(tok, pos))).decode())
    return out
assert _llm.threads(1) == 1
single = run()
assert _llm.threads(2) == 2
double = run()
text2 = m.generate('', steps=40, temperature=0.8, top_p=0.9, seed=5)
_llm.threads(1)
text1 = m.generate('', steps=40, temperature=0.8, top_p=0.9, seed=5)
print(json.dumps([single == double, len(single), text1 == text2, single[3] != single[4]]))
"""


@pytest.fixture(scope="module")
def big_model(tmp_path_factory):
    # Big enough that matmuls and attention are split (over 32K multiply-adds).
    d = tmp_path_factory.mktemp("par")
    llama2.random_checkpoint(str(d / "m.bin"), 256, 512, 2, 8, 4, 400, 64)
    pieces, scores = llama2.random_tokenizer(400)
    llama2.write_tokenizer(str(d / "t.bin"), pieces, scores)
    f32, i8 = str(d / "f32.llm"), str(d / "i8.llm")
    convert.convert(str(d / "m.bin"), str(d / "t.bin"), f32, "f32")
    convert.convert(str(d / "m.bin"), str(d / "t.bin"), i8, "int8")
    return f32, i8


@pytest.mark.parametrize("which,kv", [(0, "f32"), (1, "f32"), (1, "int8")])
def test_two_threads_bit_identical(big_model, which, kv):
    same, n, same_text, differs = firmware.run_code(COMPARE % {"path": big_model[which], "kv": kv})
    assert n == 12 and differs
    assert same and same_text


def test_threads_argument_checked():
    out = firmware.run_code("""
import _llm, json
errs = []
for bad in (0, 3, -1):
    try:
        _llm.threads(bad)
    except ValueError:
        errs.append(bad)
print(json.dumps([errs, _llm.threads()]))
""")
    assert out == [[0, 3, -1], 1]
