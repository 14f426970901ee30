// Numeric kernels of the transformer.  Plain C: no MicroPython types here,
// so the same code builds into firmware, a native .mpy, or a host test.
// Callers check every length; the kernels trust what they are given.
#ifndef LLM_KERNELS_H
#define LLM_KERNELS_H

#include <stdint.h>

// out[d] = W[d][n] @ x[n], summed left to right as llama2.c does.
void llm_matmul_f32(float *out, const float *x, const float *w, int n, int d);

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
