// Numeric kernels of the transformer.  Plain C: no MicroPython types here,
// so the same code builds into firmware, a native .mpy, or a host test.
// Callers check every length; the kernels trust what they are given.
#ifndef LLM_KERNELS_H
#define LLM_KERNELS_H

#include <stdint.h>

// out[d] = W[d][n] @ x[n], summed left to right as llama2.c does.
void llm_matmul_f32(float *out, const float *x, const float *w, int n, int d);

// Quantise x[n] into int8 groups of gs with one float scale each
// (scale = max|x| / 127).  An all-zero group gets scale 0 and zero codes.
// When gs does not divide n, the last group holds the n % gs values left,
// and its codes are padded with zeros to gs: xq needs n rounded up to a
// multiple of gs bytes (the padded rows of int8 tensors, docs/format.md).
void llm_quantize_q8(int8_t *xq, float *xs, const float *x, int n, int gs);

// IEEE half to float.  Weight scales are stored as halves: for rows of 64
// they cost 3% of the int8 bytes where float32 would cost 6%.
float llm_f16_to_f32(uint16_t h);

// out[d] = W[d][n] @ x[n] for int8 W and int8 x, both grouped by gs along n:
// each group's integer dot product is scaled by w_scale * x_scale, with
// W's scales as halves [d][n / gs].  gs divides n (a padded row: zero
// codes past the real columns keep the result exact).  On the ESP32-S3
// (LLM_ESPNN) groups whose size is a multiple of 16, with xq and w 16-byte
// aligned, go through the SIMD (esp-nn's dot kernel); the results are the
// same bits either way.
void llm_matmul_q8(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs);

// out = weight * x / rms(x), eps 1e-5, as llama2.c.
void llm_rmsnorm(float *out, const float *x, const float *weight, int n);

// In-place softmax over x[n], max-subtracted.
void llm_softmax(float *x, int n);

// Index of the first maximum.
int llm_argmax(const float *x, int n);

// hb[i] = silu(hb[i]) * hb2[i]
void llm_swiglu(float *hb, const float *hb2, int n);

// Per-pair rotation frequencies for one head: freq[k] = 1 / 10000^(2k/head_size).
void llm_rope_freqs(float *freq, int head_size);

// cos/sin of pos*freq for the head_size/2 pairs of one head.
void llm_rope_table(float *fcos, float *fsin, const float *freq, int head_size, int pos);

// The same frequencies and table from basic IEEE arithmetic alone, the
// same bits on every target; for the int8 paths, to which llama2.c's libm
// bits cannot matter (their frequencies must come from the portable
// function too).
void llm_rope_freqs_portable(float *freq, int head_size);
void llm_rope_table_portable(float *fcos, float *fsin, const float *freq, int head_size, int pos);

// Rotate consecutive pairs of vec[n] (n a multiple of head_size) with the table.
void llm_rope_apply(float *vec, const float *fcos, const float *fsin, int n, int head_size);

// One head of attention at position pos over a float KV cache: K[t][i] is
// at k[t * kt + i * ki] (a cache stored transposed has kt == 1, which is
// the fast case), V[t][i] at v[t * vt + i].  att needs pos+1 floats; out
// gets head_size floats.
void llm_attention_f32(float *out, float *att, const float *q,
    const float *k, int kt, int ki, const float *v, int vt, int pos, int head_size);

#endif
