"""Quality of every int8 configuration against fp32: perplexity and greedy
agreement."""
import os

import pytest

from host import quality


@pytest.fixture(scope="session")
def golden_text(golden_dir):
    return open(os.path.join(golden_dir, "stories260K_t1_p0.9_s133742.txt"), encoding="utf-8").read()


# Every configuration that is not llama2.c's arithmetic: int8 weights, an
# int8 KV cache (integer attention), or both; all of them use the fast
# exponential.  (label, index into llm_files, kv)
INT8_VARIANTS = [("int8 weights, fp32 KV", 1, "f32"), ("int8 weights, int8 KV", 1, "int8"),
                 ("fp32 weights, int8 KV", 0, "int8")]


@pytest.fixture(scope="session")
def fp32_perplexity(llm_files, golden_text):
    fp32, n = quality.perplexity(llm_files[0], golden_text)
    assert 1.0 < fp32 < 20 and n > 100
    return fp32, n


@pytest.mark.parametrize("label,weights,kv", INT8_VARIANTS, ids=[v[0] for v in INT8_VARIANTS])
def test_int8_variant_perplexity_within_half_a_percent_of_fp32(llm_files, golden_text, fp32_perplexity, label,
                                                               weights, kv):
    fp32, n = fp32_perplexity
    ppl, n8 = quality.perplexity(llm_files[weights], golden_text, kv=kv)
    assert n8 == n
    assert abs(ppl - fp32) / fp32 <= 0.005, "%s: perplexity %.4f, fp32 %.4f" % (label, ppl, fp32)


@pytest.fixture(scope="session")
def fp32_greedy(llm_files):
    ref = quality.greedy_tokens(llm_files[0])
    assert len(ref) == 256
    assert quality.agreement(ref, quality.greedy_tokens(llm_files[0])) == 256
    return ref


@pytest.mark.parametrize("label,weights,kv", INT8_VARIANTS, ids=[v[0] for v in INT8_VARIANTS])
def test_greedy_agreement_with_fp32(llm_files, fp32_greedy, label, weights, kv):
    assert quality.agreement(fp32_greedy, quality.greedy_tokens(llm_files[weights], kv=kv)) >= 32
