"""Memory budgets: what each model configuration needs, and the error that says
what to change when it does not fit."""
import os
import re

import pytest

from host import firmware, llama2, modelfile


GEN = """
import llm, json
m = llm.load(%(path)r, ctx=%(ctx)d, kv=%(kv)r)
n = 0
for _ in m.tokens('', steps=%(steps)d, temperature=0):
    n += 1
print(json.dumps([n, m.info()['weights_where']]))
"""


def test_budget_260k_int8_mapped_int8_kv_ctx256_in_160k(llm_files):
    n, where = firmware.run_code(GEN % {"path": llm_files[1], "ctx": 256, "kv": "int8", "steps": 256},
                                 heapsize="160K")
    assert (n, where) == (256, "mapped")


def test_budget_260k_fp32_mapped_fp32_kv_ctx512_in_1m(llm_files):
    n, where = firmware.run_code(GEN % {"path": llm_files[0], "ctx": 512, "kv": "f32", "steps": 256},
                                 heapsize="1M")
    assert (n, where) == (256, "mapped")


@pytest.fixture(scope="session")
def s15m_shape(tmp_path_factory, models_dir):
    d = tmp_path_factory.mktemp("s15m")
    cfg = {"dim": 288, "hidden_dim": 768, "n_layers": 6, "n_heads": 6, "n_kv_heads": 6,
           "vocab_size": 32000, "seq_len": 256}
    cfg, weights = llama2.random_weights(cfg, shared=True, seed=1)
    tok = open(os.path.join(models_dir, "tokenizer.bin"), "rb").read()
    path = str(d / "s15m_int8.llm")
    modelfile.write(path, cfg, weights, tok, dtype="int8")
    return path


def test_budget_15m_shape_int8_mapped_int8_kv_in_2m(s15m_shape):
    n, where = firmware.run_code(GEN % {"path": s15m_shape, "ctx": 256, "kv": "int8", "steps": 64},
                                 heapsize="2M")
    assert (n, where) == (64, "mapped")


def test_model_that_does_not_fit_says_what_to_change(llm_files):
    r = firmware.run(["-c", "import llm\nllm.load(%r)" % llm_files[0]], heapsize="300K")
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "MemoryError" in err and "needs about" in err
    assert re.search(r"try ctx=\d+ or (ctx=\d+, )?kv='int8'$", err.strip()), err
    # The weights are mapped: int8 weights or ROMFS would not free any heap.
    assert "int8 weights" not in err and "ROMFS" not in err


LOAD = """
import gc, llm
try:
    llm.load(%(path)r%(args)s)
    print("LOADED")
except MemoryError as e:
    print("ERR", e)
"""


@pytest.mark.parametrize("heap", ["60K", "100K", "256K", "400K"])
def test_each_suggested_setting_fits(llm_files, heap):
    """Every setting the MemoryError suggests loads on that heap: at 256K only
    ctx and kv='int8' together fit stories260K's 512 positions."""
    r = firmware.run(["-c", LOAD % {"path": llm_files[0], "args": ""}], heapsize=heap)
    out = r.stdout.decode()
    assert out.startswith("ERR ") and "; try " in out, out + r.stderr.decode()
    tips = out.split("; try ", 1)[1].split(";")[0].strip().split(" or ")
    assert tips and all(re.match(r"(ctx=\d+)?(, )?(kv='int8')?$", t) for t in tips), tips
    for tip in tips:
        r = firmware.run(["-c", LOAD % {"path": llm_files[0], "args": ", " + tip}], heapsize=heap)
        assert r.stdout.decode() == "LOADED\n", (tip, r.stdout.decode() + r.stderr.decode())


def test_a_model_still_loaded_is_named(llm_files):
    code = ("import llm\nm = llm.load(%r)\ntry:\n    llm.load(%r)\nexcept MemoryError as e:\n    print(e)\n"
            "del m\nimport gc\ngc.collect()\nprint(llm.load(%r).ctx)\n" % (llm_files[0], llm_files[0], llm_files[0]))
    r = firmware.run(["-c", code], heapsize="1M")
    out = r.stdout.decode()
    assert "if an earlier model is still loaded, free it first (del m; gc.collect())" in out, out + r.stderr.decode()
    assert out.endswith("\n512\n"), out  # and after del m it fits


def test_info_reports_parts(llm_files):
    info = firmware.run_code("""
import llm, json
m = llm.load(%r, ctx=64, kv='int8')
print(json.dumps(m.info()))
""" % llm_files[1])
    assert info["dim"] == 64 and info["ctx"] == 64 and info["kv"] == "int8"
    assert info["weights_where"] == "mapped" and info["weights_type"] == "int8"
    assert info["tokenizer_index_bytes"] == 0  # stored in the file
    assert info["kv_bytes"] > 0 and info["activation_bytes"] > 0 and info["heap_free"] > 0
