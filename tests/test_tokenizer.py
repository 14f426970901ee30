"""_llm.Tokenizer in the firmware against host.reference.Tokenizer (llama2.c's BPE).

Real vocabularies (tok512.bin, the 32000-token tokenizer.bin), a random one made
with host.llama2.random_tokenizer and hand-made ones with odd pieces: encode,
decode, piece and lookup must give what the reference gives; malformed files
must raise a clean ValueError, never crash the interpreter.
"""

import json
import struct

import pytest

import mpy
from host import llama2
from host import reference as R

TEXTS = [
    b"",
    b"Once upon a time, there was a little girl named Lily.",
    b"Hello world",
    b"x",
    b" ",
    b"   ",
    b" leading space",
    b"  two leading spaces",
    b"trailing space ",
    b"trailing spaces   ",
    b"a  b   c\n\nd\t!",
    b"\n",
    b"line one\nline two\n",
    b"\r\n\t\x0b\x0c",
    b"The cat sat on the mat. The cat sat on the mat. The cat sat on the mat.",
    b"UPPER lower MiXeD 12345 67.89 -1e10 (parens) [brackets] {braces} #$%&*+/<=>@\\^_`|~",
    "caf\u00e9".encode(),
    "\u00e9\u00e9\u00e9 \u00e9".encode(),
    "\u65e5\u672c\u8a9e".encode(),
    "\U0001F600 emoji \U0001F431\U0001F436".encode(),
    "na\u00efve \u00fcber \u20ac5 \u00df \u00f1 \u00c5ngstr\u00f6m".encode(),
    "\u0394\u03b5\u03bb\u03c4\u03b1 \u041f\u0440\u0438\u0432\u0435\u0442 \u0645\u0631\u062d\u0628\u0627".encode(),
    b"\x80 stray continuation",
    b"abc\x80\x80def",
    b"\xff\xfe\xfd",
    b"\xe6\x97",                     # a character cut short
    "\u65e5".encode() + b"\xa5",     # a character plus a stray continuation byte
    b"\xf0\x80\x80\x80\x80\x80",     # a lead byte with 5 continuation bytes
    b"\xc3",
    b"bytes \x01\x7f\xff\xfe end",
    b"<0x41> looks like a byte piece",
]

# the MicroPython side: every check of one tokenizer in one process
TOK_PROGRAM = r'''
import json
import _llm
import binascii

cfg = json.loads(load("cfg"))
data = load("tok")
if cfg.get("unaligned"):
    # the records are read unaligned anyway: hand over a memoryview at an odd address
    back = bytearray(b"\0" * 3 + data)
    data = memoryview(back)[3:]
tok = _llm.Tokenizer(data, cfg["vocab"])
emit("vocab_size", tok.vocab_size)
texts = [binascii.unhexlify(t) for t in cfg["texts"]]
enc = []
for t in texts:
    ids = tok.encode(t)
    dec = [tok.decode(ids[i - 1], ids[i]) for i in range(1, len(ids))]
    enc.append([ids, tok.encode(t, False, True), tok.encode(t, True, True), tok.encode(t, False), dec])
emit("enc", enc)
del enc
V = cfg["vocab"]
emit("pieces", [tok.piece(i) for i in range(V)])
emit("lookup_pieces", [tok.lookup(tok.piece(i)) for i in range(V)])
emit("lookup_other", [tok.lookup(binascii.unhexlify(p)) for p in cfg["other"]])
ids = cfg["ids"]
for k, prev in enumerate(cfg["prevs"]):
    emit("decode%d" % k, [tok.decode(prev, i) for i in ids])
'''


def hexes(items):
    return [bytes(x).hex() for x in items]


def run_tokenizer(tok_bytes, ref, ids=None, prevs=(0, 1, 2, 13, 259), texts=TEXTS, unaligned=False):
    V = ref.vocab_size
    other = [b"", b" ", b"zzqqzzqq", b"\xff", b"Once upon", b"<0x41>", b"<0x0A>", b"<unk>",
             b"\n<s>\n", b" " * 20]
    cfg = {"vocab": V, "texts": hexes(texts), "other": hexes(other),
           "ids": list(range(V)) if ids is None else ids, "prevs": [p for p in prevs if p < V],
           "unaligned": unaligned}
    res = mpy.snippet(TOK_PROGRAM, data={"tok": tok_bytes, "cfg": json.dumps(cfg).encode()}, heapsize="64M")
    return res, cfg, other


def check_against_reference(res, cfg, other, ref, texts=TEXTS):
    V = ref.vocab_size
    assert res["vocab_size"] == V
    for text, (ids, no_bos_eos, bos_eos, no_bos, dec) in zip(texts, res["enc"]):
        assert ids == ref.encode(text), text
        assert no_bos_eos == ref.encode(text, bos=False, eos=True), text
        assert bos_eos == ref.encode(text, bos=True, eos=True), text
        assert no_bos == ref.encode(text, bos=False), text
        want_dec = [ref.decode(a, b) for a, b in zip(ids, ids[1:])]
        assert dec == want_dec, text
        # the round trip: the dummy prefix's space is dropped after BOS, byte pieces give bytes
        assert b"".join(want_dec) == text
        assert b"".join(dec) == text
    assert res["pieces"] == ref._c  # C strings: a piece ends at its first NUL
    assert res["lookup_pieces"] == [ref.lookup(p) for p in ref._c]
    assert res["lookup_other"] == [ref.lookup(p) for p in other]
    for k, prev in enumerate(cfg["prevs"]):
        assert res["decode%d" % k] == [ref.decode(prev, i) for i in cfg["ids"]], "prev %d" % prev


@pytest.fixture(scope="module")
def ref512(tok512_path):
    return R.Tokenizer.from_file(tok512_path, 512)


@pytest.fixture(scope="module")
def ref32k(tok32k_path):
    return R.Tokenizer.from_file(tok32k_path, 32000)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_tok512(firmware, tok512_path, ref512):
    res, cfg, other = run_tokenizer(read(tok512_path), ref512)
    check_against_reference(res, cfg, other, ref512)


def test_tok512_unaligned_buffer(firmware, tok512_path, ref512):
    res, cfg, other = run_tokenizer(read(tok512_path), ref512, unaligned=True)
    check_against_reference(res, cfg, other, ref512)


def test_tok32k(firmware, tok32k_path, ref32k):
    # decode of every id after a few previous tokens (0, BOS, EOS, a byte, "  ")
    res, cfg, other = run_tokenizer(read(tok32k_path), ref32k)
    check_against_reference(res, cfg, other, ref32k)
    # the ids llama2.c's own tests give
    assert res["enc"][2][0] == ref32k.encode(b"Hello world") == [1, 15043, 3186]


def test_random_tokenizer(firmware, tmp_path):
    pieces, scores = llama2.random_tokenizer(700, seed=5)
    path = tmp_path / "tok.bin"
    llama2.write_tokenizer(path, pieces, scores)
    ref = R.Tokenizer.from_file(path, 700)
    res, cfg, other = run_tokenizer(path.read_bytes(), ref)
    check_against_reference(res, cfg, other, ref)
    # the vocabulary has multi-byte pieces: some texts use them, not only byte fallback
    assert any(i > 258 + 60 for ids in (r[0] for r in res["enc"]) for i in ids)


def test_byte_fallback_pieces(firmware, tok512_path, ref512):
    res, cfg, other = run_tokenizer(read(tok512_path), ref512, ids=list(range(3, 259)), prevs=(0, 1))
    for k in range(2):
        assert res["decode%d" % k] == [bytes([b]) for b in range(256)]
    assert res["decode0"] == [ref512.decode(0, b + 3) for b in range(256)]
    # a text of every byte value round-trips through byte fallback
    every = bytes(range(1, 256))
    res2, cfg2, other2 = run_tokenizer(read(tok512_path), ref512, ids=[3], texts=[every])
    ids = res2["enc"][0][0]
    assert ids == ref512.encode(every)
    assert b"".join(res2["enc"][0][4]) == every


def odd_vocab():
    """A random vocabulary plus pieces that exercise the corners of decode and lookup."""
    pieces, scores = llama2.random_tokenizer(300, seed=2)
    extra = [b"<0xA>", b"<0xab>", b"<0xZZ>", b"<0x4", b"<0x41", b"<0x412>", b"<0x>", b"<0X41>",
             b"dup", b"ab\x00cd", b"ab", b"dup", b" \x00hidden", b"\x00", b"zz", b"zzz", b"z"]
    return pieces + extra, scores + [-1000.0 - i for i in range(len(extra))]


def test_odd_pieces(firmware, tmp_path):
    pieces, scores = odd_vocab()
    path = tmp_path / "tok.bin"
    llama2.write_tokenizer(path, pieces, scores)
    ref = R.Tokenizer(pieces, scores)
    texts = [b"ab", b"dup dup", b"zzzz", b"abcd", b"hello <0xA>"]
    res, cfg, other = run_tokenizer(path.read_bytes(), ref, texts=texts)
    check_against_reference(res, cfg, other, ref, texts=texts)
    # duplicate pieces: lookup finds the lowest id (the reference's documented choice)
    dup = [i for i, p in enumerate(pieces) if p == b"dup"]
    assert len(dup) == 2 and res["lookup_pieces"][dup[1]] == dup[0]
    # a piece with a NUL is seen as a C string: "ab\0cd" is looked up as "ab"
    abcd = pieces.index(b"ab\x00cd")
    assert res["pieces"][abcd] == b"ab"
    assert res["lookup_pieces"][pieces.index(b"ab")] == ref.lookup(b"ab") == abcd


def test_byte_piece_with_whitespace(firmware, tmp_path):
    pieces, scores = llama2.random_tokenizer(260)
    pieces, scores = pieces + [b"<0x 41>", b"<0x\t7>"], scores + [0.0, 0.0]
    path = tmp_path / "tok.bin"
    llama2.write_tokenizer(path, pieces, scores)
    ref = R.Tokenizer(pieces, scores)
    assert ref.decode(0, 260) == b"A" and ref.decode(0, 261) == b"\x07"
    res, cfg, other = run_tokenizer(path.read_bytes(), ref, ids=[260, 261], prevs=(0,), texts=[b"x"])
    assert res["decode0"] == [b"A", b"\x07"]


def test_text_with_nul(firmware, tok512_path, ref512):
    texts = [b"x\x00yz", b"\x00abc"]
    res, cfg, other = run_tokenizer(read(tok512_path), ref512, ids=[3], prevs=(0,), texts=texts)
    assert [r[0] for r in res["enc"]] == [ref512.encode(t) for t in texts]
    res2 = mpy.snippet(r'''
import _llm
tok = _llm.Tokenizer(load("tok"), 512)
emit("lookup", tok.lookup(b"a\x00b"))
''', data={"tok": read(tok512_path)})
    assert res2["lookup"] == ref512.lookup(b"a\x00b") == ref512.lookup(b"a")


def test_str_and_bytes_and_buffers(firmware, tok512_path, ref512):
    res = mpy.snippet(r'''
import _llm
data = load("tok")
toks = [_llm.Tokenizer(data, 512), _llm.Tokenizer(bytearray(data), 512),
        _llm.Tokenizer(memoryview(data), 512)]
out = []
for t in toks:
    out.append([t.encode("caf\u00e9 \u65e5\u672c"), t.encode(b"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"),
                t.encode("Once upon a time", True, False), t.index_bytes])
emit("out", out)
''', data={"tok": read(tok512_path)})
    want = ref512.encode("caf\u00e9 \u65e5\u672c".encode())
    for a, b, c, index_bytes in res["out"]:
        assert a == b == want
        assert c == ref512.encode(b"Once upon a time")
        assert index_bytes == 8 * 512


def test_header_max_token_length_is_not_trusted(firmware, tmp_path):
    # llama2.c sizes its merge buffer from the header's max_token_length; a lying header must not
    # break the firmware's encode (it measures the pieces itself).
    pieces, scores = llama2.random_tokenizer(400, seed=3)
    ref = R.Tokenizer(pieces, scores)
    good = tmp_path / "tok.bin"
    llama2.write_tokenizer(good, pieces, scores)
    texts = [b"Once upon a time the cafe", "caf\u00e9 \u65e5\u672c the and".encode()]
    for mtl in (1, 0, -5):
        data = struct.pack("<i", mtl) + good.read_bytes()[4:]
        res, cfg, other = run_tokenizer(data, ref, ids=[3, 300], prevs=(0,), texts=texts)
        assert [r[0] for r in res["enc"]] == [ref.encode(t) for t in texts]


# ---------------------------------------------------------------------------------------------
# malformed tokenizer data

MALFORMED = r'''
import json
import _llm
cases = json.loads(load("cases"))
out = []
for name, vocab in cases:
    r = catch(_llm.Tokenizer, load(name), vocab)
    out.append([name, vocab] + r)
emit("out", out)
# wrong argument types
emit("types", [catch(_llm.Tokenizer, None, 512), catch(_llm.Tokenizer, load("good"), "512"),
               catch(_llm.Tokenizer, 42, 512), catch(_llm.Tokenizer, load("good"))])
# still alive, and a good tokenizer still works
t = _llm.Tokenizer(load("good"), cases[0][1])
emit("after", t.encode("Once upon a time"))
print("alive")
'''


def record_offsets(data, vocab):
    offs, off = [], 4
    for _ in range(vocab):
        offs.append(off)
        (n,) = struct.unpack_from("<i", data, off + 4)
        off += 8 + n
    return offs


def test_malformed_tokenizer_files(firmware, tok512_path, ref512):
    good = read(tok512_path)
    V = 512
    offs = record_offsets(good, V)
    data = {"good": good}
    cases = [["good", V]]
    expect = {}  # name -> words the message must contain

    def add(name, blob, vocab, words):
        data[name] = blob
        cases.append([name, vocab])
        expect[(name, vocab)] = words

    for cut in (0, 2, 4, 7, 8, 12, 100, 8 * V - 1):
        add("cut%d" % cut, good[:cut], V, ("tokenizer", "fit"))
    past_index = next(k for k in range(V) if offs[k] > 8 * V + 8)
    for k in (past_index, V // 2 + past_index // 2, V - 1):
        # cut inside record k's header, and inside its piece (beyond the 8 * vocab bytes)
        add("cut_hdr%d" % k, good[:offs[k] + 6], V, ("truncated", "token %d" % k))
        add("cut_piece%d" % k, good[:offs[k] + 9], V, ("truncated", "token %d" % k))
    add("cut_last_byte", good[:-1], V, ("truncated", "token %d" % (V - 1)))
    for k, n in ((0, -1), (7, -100), (300, -2 ** 31), (V - 1, -1)):
        bad = bytearray(good)
        struct.pack_into("<i", bad, offs[k] + 4, n)
        add("neg%d" % k, bytes(bad), V, ("length", "token %d" % k))
    for k, n in ((5, 2 ** 31 - 1), (9, 70000), (V - 1, 4)):
        bad = bytearray(good)
        struct.pack_into("<i", bad, offs[k] + 4, n)
        add("long%d" % k, bytes(bad), V, ("token %d" % k,))
    # more tokens than the file holds
    add("more_vocab", good, V + 1, ("truncated", "token %d" % V))
    add("much_more_vocab", good, 10 * V, ("tokenizer",))
    for v in (0, -1, -512, 2, 2 ** 31, 2 ** 40):
        add("vocab%d" % v, good, v, ("vocab",) if v <= 0 or v >= 2 ** 31 else ("tokenizer",))
    data["cases"] = json.dumps(cases).encode()
    res = mpy.snippet(MALFORMED, data=data)
    assert res.out.strip().endswith("alive")
    assert res["after"] == ref512.encode(b"Once upon a time")
    problems = []
    for name, vocab, kind, msg in res["out"]:
        if name == "good":
            assert kind == "ok"
            continue
        words = expect[(name, vocab)]
        if kind != "ValueError" or not all(w in msg for w in words):
            problems.append("%s (vocab %d): %s %r, want ValueError with %s" % (name, vocab, kind, msg, words))
    assert not problems, "\n".join(problems)
    assert [r[0] for r in res["types"]] == ["TypeError"] * 4


def test_tokenizer_shorter_than_vocab_with_padding(firmware, tok512_path):
    # Enough bytes for 8 * vocab, but the records run out: "truncated", not a read past the end.
    good = read(tok512_path)
    blob = good + b"\0" * 7  # a 513th record would need 8 bytes of header
    res = mpy.snippet(r'''
import _llm
emit("r", catch(_llm.Tokenizer, load("t"), 513))
emit("r2", catch(_llm.Tokenizer, load("t") + b"\0" * 8, 513))
''', data={"t": blob})
    assert res["r"][0] == "ValueError" and "truncated" in res["r"][1]
    # 8 zero bytes are a valid empty piece with score 0: accepted, like llama2.c would
    assert res["r2"] == ["ok", None]


# ---------------------------------------------------------------------------------------------
# the index stored with the tokenizer (Tokenizer(data, vocab, start, size, index))

def build_index(tok_bytes, vocab, ref):
    offs = record_offsets(tok_bytes, vocab)
    order = sorted(range(vocab), key=lambda i: (ref._c[i], i))
    return struct.pack("<%dI" % vocab, *offs) + struct.pack("<%dI" % vocab, *order)


STORED = r'''
import json
import binascii
import _llm
cfg = json.loads(load("cfg"))
blob = load("blob")
out = []
for name, start, size, index in cfg["cases"]:
    r = catch(_llm.Tokenizer, load(name) if name != "blob" else blob, cfg["vocab"], start, size, index)
    out.append([name, start, size, index] + r)
emit("out", out)
t = _llm.Tokenizer(blob, cfg["vocab"], cfg["start"], cfg["size"], cfg["index"])
emit("enc", [t.encode(binascii.unhexlify(x)) for x in cfg["texts"]])
emit("index_bytes", t.index_bytes)
print("alive")
'''


def test_stored_index(firmware, tok512_path, ref512):
    tok = read(tok512_path)
    V = 512
    index = build_index(tok, V, ref512)
    pre = b"HEAD" * 3  # the tokenizer starts at 12, the index after it, 4-byte aligned
    start, size = len(pre), len(tok)
    idx_at = start + size + (-(start + size)) % 4
    blob = pre + tok + b"\0" * (idx_at - start - size) + index
    texts = ["Once upon a time", "caf\u00e9 \U0001F600", ""]

    def patched(pos, value):
        b = bytearray(blob)
        struct.pack_into("<I", b, pos, value)
        return bytes(b)

    data = {"blob": blob}
    cases = [["blob", start, size, idx_at]]
    bad = {
        "off_past_end": patched(idx_at + 4 * 10, size),
        "off_below_4": patched(idx_at + 4 * 3, 2),
        "off_huge": patched(idx_at, 0xFFFFFFF0),
        "sorted_id_too_big": patched(idx_at + 4 * V + 4 * 7, V),
        "sorted_duplicate": patched(idx_at + 4 * V + 4 * 8, struct.unpack_from("<I", blob, idx_at + 4 * V + 4 * 9)[0]),
        "sorted_swapped": None,
    }
    sw = bytearray(blob)
    a, b = idx_at + 4 * V + 4 * 20, idx_at + 4 * V + 4 * 21
    sw[a:a + 4], sw[b:b + 4] = blob[b:b + 4], blob[a:a + 4]
    bad["sorted_swapped"] = bytes(sw)
    data.update(bad)
    cases += [[name, start, size, idx_at] for name in bad]
    cases += [
        ["blob", start, size, idx_at + 1],        # misaligned index
        ["blob", start, size, len(blob) - 4],     # index runs past the end
        ["blob", start, size, len(blob) + 4],
        ["blob", -1, size, idx_at],
        ["blob", start, len(blob), idx_at],       # size past the end
        ["blob", len(blob) + 1, -1, idx_at],
        ["blob", start, -2, idx_at],
        ["blob", start, size - 1, idx_at],        # the last record cut off
    ]
    cfg = {"vocab": V, "cases": cases, "start": start, "size": size, "index": idx_at,
           "texts": hexes(t.encode() for t in texts)}
    data["cfg"] = json.dumps(cfg).encode()
    res = mpy.snippet(STORED, data=data)
    assert res.out.strip().endswith("alive")
    assert res["enc"] == [ref512.encode(t.encode()) for t in texts]
    assert res["index_bytes"] == 0  # the index lives with the data, not on the heap
    out = res["out"]
    assert out[0][4:] == ["ok", None]
    problems = [r for r in out[1:] if r[4] != "ValueError" or "tokenizer" not in r[5]]
    assert not problems, problems
