// The int8 paths' attention: integer attention over the int8 KV cache, and
// the attention over an fp32 KV cache with the fast softmax (fastexp.h).
// Portable C in attention_q8.c, SIMD in attention_q8_sse2.c and
// attention_q8_s3.c.  Plain C, like kernels.h: no MicroPython types.
//
// Only configurations that are not bit-exact with llama2.c anyway use these
// (int8 weights or an int8 KV cache: transformer.c's exact_path()); fp32
// weights with an fp32 KV cache keep llama2.c's expf and float attention
// (kernels.c).
#ifndef LLM_ATTENTION_Q8_H
#define LLM_ATTENTION_Q8_H

#include <stdint.h>
#include "kv_cache.h"  // the int8 cache's layout, LLM_ATT_Q8_PIE

// Weight codes of the value sums are at most 127 * 256 + 127, so that the
// S3 splits each into two int8 digits (w = 256 hi + lo, hi in [0, 127],
// lo in [-128, 127]) with the same integer sums.
#define LLM_ATT_Q8_WMAX (32639)

// Positions whose value products are summed in int32 before they are scaled
// into float: 256 * 32639 * 127 < 2**31.
#define LLM_ATT_Q8_BLOCK (256)

// Attention of nq query heads that share one KV head, over that head's
// block of an int8 KV cache with keys and values both transposed (the
// portable layout on every target): K[t][i] = k[i * ctx + t] * ks[t],
// V[t][i] = v[i * ctx + t] * vs[t].
// Query head h is q[h * head_size + i] * qs[h] (llm_quantize_q8, one group
// per head); its output goes to out[h * head_size + i], its scores to
// att + h * att_stride.  Codes are in [-127, 127].
//
// Each score is an integer dot product times qs * ks[t] / sqrt(head_size).
// The softmax uses a cheaper exponential than llm_exp_fast (fastexp.h's
// exp2_soft_k: a cubic for 2**f, within 1.1e-4 relative of e**x,
// tests/test_attention_q8.py); its weights times vs[t] are quantised to
// int16 codes per block of LLM_ATT_Q8_BLOCK positions (scale: the block's
// largest vs / LLM_ATT_Q8_WMAX), so each output is an integer dot product
// over the block's positions, scaled into float.  Each head's att needs ctx floats
// (SIMD may write scores past pos) and is left holding e**(score - max
// score) for positions 0..pos.  head_size <= 256.  Every head's result is
// the same as if it were computed alone (nq = 1).
void llm_attention_q8i(float *out, float *att, int att_stride, const int8_t *q, const float *qs, int nq,
    const int8_t *k, const float *ks, const int8_t *v, const float *vs, int ctx, int pos, int head_size);

// llm_attention_q8i over the int8 KV cache in its layout (kv_cache.h): on the S3 its SIMD path; elsewhere llm_attention_q8i
// itself.  The same results, bit for bit, on every target.
void llm_attention_q8_cache(float *out, float *att, int att_stride, const int8_t *q, const float *qs, int nq,
    const int8_t *k, const float *ks, const int8_t *v, const float *vs, int ctx, int pos, int head_size);

// One head of attention over an fp32 KV cache as the transformer keeps it
// (keys transposed, k[i * ctx + t]; values by position, v[t * head_size + i])
// with llm_attention_q8i's exponential in the softmax: for int8 weights with
// an fp32 KV cache, which are not llama2.c's arithmetic anyway.  Scores as
// llm_attention_f32 but multiplied by log2(e) / sqrt(head_size) rather than
// divided by the root (IEEE operations in a fixed order: every target gives
// the same bits);
// att needs pos + 1 floats.
void llm_attention_f32_fast(float *out, float *att, const float *q, const float *k, const float *v,
    int ctx, int pos, int head_size);

#endif
