"""The .llm file: alignment, int8 groups and their zero padding, versions, the
converter, and malformed files that must raise a clear error."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from host import convert, firmware, llama2, modelfile
from repo import REPO


def tensor_cols(config, i, n_entries):
    """Row length of table entry i (llama2.c's shapes, docs/format.md)."""
    layer_slot = (i - 1) % 9
    return config["hidden_dim"] if 1 <= i < n_entries - 2 and layer_slot == 7 else config["dim"]


def test_every_tensor_is_16_byte_aligned_and_int8_groups_are_whole_vectors(llm_files):
    for path in llm_files:
        data = open(path, "rb").read()
        header = modelfile.read_header(data)
        # No 4-bit tensor: version 2, which firmware older than the 4-bit type reads.
        assert header["version"] == modelfile.VERSION_WITHOUT_Q4 == 2
        table = modelfile.read_table(data, header)
        for i, (off, kind, gs, soff) in enumerate(table):
            assert off % 16 == 0
            if kind == modelfile.Q8:
                # Whole 128-bit vectors for the S3's SIMD, and rows padded to whole groups.
                cols = tensor_cols(header["config"], i, len(table))
                assert soff % 16 == 0 and gs > 0 and gs % 16 == 0
                assert gs == modelfile.pick_group_size(cols)
        assert header["file_size"] == len(data)


def test_int8_rows_are_padded_with_zero_codes(llm_files, s260):
    data = open(llm_files[1], "rb").read()
    header = modelfile.read_header(data)
    c = header["config"]
    table = modelfile.read_table(data, header)
    w2_off, kind, gs, soff = table[1 + 7]  # layer 0's w2: rows of hidden_dim 172
    assert kind == modelfile.Q8 and gs == 64
    padded = modelfile.padded_cols(c["hidden_dim"], gs)
    assert padded == 192
    codes = np.frombuffer(data, dtype=np.int8, count=c["dim"] * padded, offset=w2_off).reshape(c["dim"], padded)
    assert (codes[:, c["hidden_dim"]:] == 0).all()
    assert (codes[:, :c["hidden_dim"]] != 0).any(axis=1).all()
    assert soff == w2_off + c["dim"] * padded  # the scales follow: padded / gs per row
    # The codes of the real columns are those of groups of 64, the last one short.
    cfg, w = llama2.read_checkpoint(s260[0])
    row = w["w2"][0][3]
    scales = np.frombuffer(data, dtype="<f2", count=padded // gs, offset=soff + 3 * (padded // gs) * 2)
    for g in range(padded // gs):
        part = row[g * gs:(g + 1) * gs]
        assert scales[g] == np.float16(np.abs(part).max() / 127.0)
        want = np.clip(np.rint(part / np.float32(scales[g])), -127, 127).astype(np.int8)
        assert (codes[3, g * gs:g * gs + len(part)] == want).all()


def test_int8_scales_cost_at_most_5_percent(llm_files):
    data = open(llm_files[1], "rb").read()
    header = modelfile.read_header(data)
    c = header["config"]
    table = modelfile.read_table(data, header)
    seen = set()
    int8_bytes = scale_bytes = 0
    for i, (off, kind, gs, soff) in enumerate(table):
        if kind != modelfile.Q8 or off in seen:
            continue
        seen.add(off)
        cols = tensor_cols(c, i, len(table))
        assert gs % 16 == 0 and modelfile.padded_cols(cols, gs) - cols < gs
        rows_bytes = (soff - off)  # codes (padded rows) come right before their scales
        int8_bytes += rows_bytes
        scale_bytes += rows_bytes // gs * 2
        assert rows_bytes // gs * 2 <= 0.05 * rows_bytes, "tensor %d: group size %d" % (i, gs)
    assert scale_bytes <= 0.05 * int8_bytes


def test_group_size_choice():
    # Multiples of 16 (whole SIMD vectors), the padding least, 64 on a tie.
    assert modelfile.pick_group_size(64) == 64
    assert modelfile.pick_group_size(172) == 64  # padded to 192, as with 48
    assert modelfile.pick_group_size(288) == 48  # 64 would pad to 320
    assert modelfile.pick_group_size(768) == 64
    assert modelfile.pick_group_size(7) == 16  # one group, the row padded to 16
    assert modelfile.pick_group_size(40) == 48


def test_padded_quantisation_equals_the_unpadded_groups():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, 100)).astype(np.float32)
    q, s = modelfile.quantize(w, 64)
    assert q.shape == (5, 128) and s.shape == (5, 2)
    assert (q[:, 100:] == 0).all()
    q1, s1 = modelfile.quantize(w[:, 64:], 36)  # the short last group on its own
    assert (q[:, 64:100] == q1).all() and (s[:, 1:] == s1).all()
    assert np.abs(modelfile.dequantize(q, s, 100) - w).max() <= np.abs(w).max() / 127 * 0.51 + 1e-3
    for bad in (0, -16, 7, 24, 40, 128):  # neither divides 100 nor a multiple of 16 up to 112
        with pytest.raises(ValueError):
            modelfile.quantize(w, bad)


def old_group_size(cols):
    """Version 1's default: the smallest divisor of the row of at least 40."""
    return next((gs for gs in range(40, cols + 1) if cols % gs == 0), cols)


def test_version1_files_load_as_before_and_newer_versions_ask_to_reconvert(tmp_path, s260):
    # A version-1 layout: groups that divide the rows (43 for w2), no padding.
    cfg, w = llama2.read_checkpoint(s260[0])
    old = dict(w)
    for name in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
        old[name] = [modelfile.quantize(m, old_group_size(m.shape[1])) for m in w[name]]
    old["token_embedding_table"] = old["wcls"] = modelfile.quantize(w["token_embedding_table"], 64)
    tok = open(s260[1], "rb").read()
    v2 = str(tmp_path / "v2.llm")
    modelfile.write(v2, cfg, old, tok, shared=True)
    data = bytearray(open(v2, "rb").read())
    table = modelfile.read_table(bytes(data), modelfile.read_header(bytes(data)))
    assert table[1 + 7][2] == 43  # layer 0's w2
    struct.pack_into("<I", data, 4, 1)
    v1 = str(tmp_path / "v1.llm")
    open(v1, "wb").write(data)
    gen = "import llm, json\nm = llm.load(%r)\nprint(json.dumps(m.generate('Once', steps=40, temperature=0)))"
    text = firmware.run_code(gen % v1)
    assert len(text) > 20 and text == firmware.run_code(gen % v2)
    struct.pack_into("<I", data, 4, 3)
    v3 = str(tmp_path / "v3.llm")
    open(v3, "wb").write(data)
    assert firmware.run_code(gen % v3) == text  # version 3 without 4-bit tensors reads the same
    struct.pack_into("<I", data, 4, 4)
    v4 = str(tmp_path / "v4.llm")
    open(v4, "wb").write(data)
    out = load_error(v4)
    assert out.startswith("ValueError") and "version 4" in out and "re-convert" in out, out


def test_all_zero_group_quantises_without_nan():
    w = np.zeros((3, 80), dtype=np.float32)
    w[1, 40:] = np.linspace(-1, 1, 40)
    q, s = modelfile.quantize(w, 40)
    assert not np.isnan(s.astype(np.float32)).any()
    assert (q[0] == 0).all() and (s[0] == 0).all()
    back = modelfile.dequantize(q, s)
    assert np.abs(back - w).max() < 1 / 127 + 1e-3


def test_zero_rows_run_without_nan_on_firmware(tmp_path):
    # A model whose embedding has an all-zero row: int8 codes and activations
    # must stay finite.
    cfg, w = llama2.random_checkpoint(str(tmp_path / "r.bin"), 48, 96, 2, 4, 2, 300, 32)
    w["token_embedding_table"][5] = 0
    llama2.write_checkpoint(str(tmp_path / "r.bin"), cfg, w)
    pieces, scores = llama2.random_tokenizer(300)
    llama2.write_tokenizer(str(tmp_path / "t.bin"), pieces, scores)
    convert.convert(str(tmp_path / "r.bin"), str(tmp_path / "t.bin"), str(tmp_path / "r.llm"), "int8")
    out = firmware.run_code("""
import llm, json, math
m = llm.load(%r, kv='int8')
lg = m.forward(5, 0)
print(json.dumps(all(not math.isnan(v) for v in lg)))
""" % str(tmp_path / "r.llm"))
    assert out is True


def test_converter_reads_valid_version2(tmp_path):
    cfg, w = llama2.random_checkpoint(str(tmp_path / "r.bin"), 64, 128, 2, 4, 4, 300, 32)
    convert.write_q80(str(tmp_path / "q.bin"), cfg, w, 32)
    config, weights, gs = convert.read_q80(str(tmp_path / "q.bin"))
    assert gs == 32 and config["dim"] == 64
    q, s = weights["w2"][1]
    back = modelfile.dequantize(q, s)
    assert np.abs(back - w["w2"][1]).max() <= np.abs(w["w2"][1]).max() / 127 * 0.51 + 1e-3
    pieces, scores = llama2.random_tokenizer(300)
    llama2.write_tokenizer(str(tmp_path / "t.bin"), pieces, scores)
    r = subprocess.run([sys.executable, "-m", "host.convert", str(tmp_path / "q.bin"), str(tmp_path / "t.bin"),
                        str(tmp_path / "q.llm"), "--int8"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = firmware.run_code("import llm, json\nm = llm.load(%r)\nprint(json.dumps(m.generate('', steps=8, temperature=0)))"
                            % str(tmp_path / "q.llm"))
    assert isinstance(out, str)


def test_converter_refuses_version2_whose_group_size_does_not_divide(tmp_path, s260):
    cfg, w = llama2.read_checkpoint(s260[0])
    convert.write_q80(str(tmp_path / "q.bin"), cfg, w, 64)  # as llama2.c's export.py --version 2
    r = subprocess.run([sys.executable, "-m", "host.convert", str(tmp_path / "q.bin"), s260[1],
                        str(tmp_path / "q.llm"), "--int8"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 1
    assert "group size 64 does not divide hidden_dim 172" in r.stderr
    assert not os.path.exists(tmp_path / "q.llm")


def test_converter_errors_are_clear(tmp_path, s260):
    (tmp_path / "junk.bin").write_bytes(b"\x01\x02")
    for args, words in (
        ([str(tmp_path / "missing.bin"), s260[1], str(tmp_path / "o.llm")], "No such file"),
        ([str(tmp_path / "junk.bin"), s260[1], str(tmp_path / "o.llm")], "header"),
        ([s260[0], s260[1], str(tmp_path / "o.llm"), "--int8", "--group-size", "5"], "does not divide"),
    ):
        r = subprocess.run([sys.executable, "-m", "host.convert"] + args, cwd=REPO, capture_output=True, text=True)
        assert r.returncode == 1 and words in r.stderr, r.stderr
        assert not os.path.exists(tmp_path / "o.llm")


def load_error(path, heapsize=None):
    r = firmware.run(["-c", """
import llm
try:
    llm.load(%r)
    print('LOADED')
except (ValueError, OSError, MemoryError) as e:
    print(type(e).__name__, e)
""" % path], heapsize=heapsize)
    assert r.returncode == 0, r.stderr  # no crash
    return r.stdout.decode()


def patched(tmp_path, src, name, edit):
    data = bytearray(open(src, "rb").read())
    edit(data)
    path = str(tmp_path / name)
    open(path, "wb").write(data)
    return path


def table_entry(data, i):
    h = modelfile.read_header(bytes(data))
    return h["table_offset"] + 16 * i


@pytest.mark.parametrize("name,edit,words", [
    ("magic", lambda d: d.__setitem__(slice(0, 4), b"nope"), "llama2.c checkpoint"),
    ("version", lambda d: struct.pack_into("<I", d, 4, 9), "version 9"),
    ("truncated", lambda d: d.__delitem__(slice(len(d) - 100, None)), "header says"),
    ("absurd_dim", lambda d: struct.pack_into("<i", d, 12, 1 << 30), "dim"),
    ("negative_layers", lambda d: struct.pack_into("<i", d, 20, -3), "n_layers"),
    ("table_outside", lambda d: struct.pack_into("<I", d, 44, 1 << 31), "tensor table"),
    ("tokenizer_outside", lambda d: struct.pack_into("<I", d, 52, 1 << 30), "tokenizer"),
    ("tensor_past_end", lambda d: struct.pack_into("<i", d, table_entry(d, 2), len(d) - 16), "past the end"),
    ("tensor_overflow_32", lambda d: struct.pack_into("<i", d, table_entry(d, 2), 0x7FFFFFF0), "past the end"),
    ("negative_offset", lambda d: struct.pack_into("<i", d, table_entry(d, 2), -16), "bad offset"),
    ("misaligned", lambda d: struct.pack_into("<i", d, table_entry(d, 2),
                                              struct.unpack_from("<i", d, table_entry(d, 2))[0] + 4), "aligned"),
    ("bad_type", lambda d: struct.pack_into("<i", d, table_entry(d, 2) + 4, 7), "bad offset or type"),
    ("tokenizer_truncated", lambda d: struct.pack_into("<I", d, 52, 100), "tokenizer"),
    ("tokenizer_index_corrupt", lambda d: struct.pack_into(
        "<I", d, modelfile.read_header(bytes(d))["index_offset"], 0xFFFFFF), "tokenizer"),
    ("tokenizer_sorted_corrupt", lambda d: struct.pack_into(
        "<I", d, modelfile.read_header(bytes(d))["index_offset"] + 4 * 512 + 8, 3), "index"),
])
def test_malformed_model_file_raises_clear_error(tmp_path, llm_files, name, edit, words):
    src = llm_files[0] if name != "bad_group" else llm_files[1]
    out = load_error(patched(tmp_path, src, name + ".llm", edit))
    assert out.startswith("ValueError"), out
    assert words in out, out


def test_malformed_int8_group_size(tmp_path, llm_files):
    def edit(d):
        struct.pack_into("<i", d, table_entry(d, 2) + 8, 5)  # wq of layer 0: 5 does not divide 64
    out = load_error(patched(tmp_path, llm_files[1], "gs.llm", edit))
    assert out.startswith("ValueError") and "group size" in out, out
