// The int8 attention's SIMD, one file per target (attention_q8_sse2.c for
// x86-64, attention_q8_s3.c for the ESP32-S3's PIE), and what those files
// share with the portable code (attention_q8.c).  Internal to the three.
#ifndef LLM_ATTENTION_Q8_SIMD_H
#define LLM_ATTENTION_Q8_SIMD_H

#include <stdint.h>
#include "attention_q8.h"

// Scores in blocks whose int32 sums fit on the stack.
#define SCORE_BLOCK (64)

// Query heads that share a KV head (grouped-query attention) are done in
// pairs: the SIMD paths load and unpack each key and value once for both.
#define HEADS (2)


// w . row over positions [from, to): compilers vectorise it.
static inline int32_t dot_w_v(const int16_t *w, const int8_t *row, int from, int to) {
    int32_t dot = 0;
    for (int j = from; j < to; j++) {
        dot += (int32_t)w[j] * (int32_t)row[j];
    }
    return dot;
}


#if defined(__SSE2__)
// Scores of nh (1 or 2) heads over the portable layout (keys transposed,
// rows of ctx) in chunks of 16 positions, each scores_q8's floats; returns
// the positions done.  max_val[h] is head h's largest score over the first
// *max_n positions, when *max_n > 0.
int llm_att_q8_scores_sse2(float *const *att, const int8_t *const *q, const float *c, int nh,
    const int8_t *k, const float *ks, int ctx, int n, int head_size, float *max_val, int *max_n);

// out[h][i] += (w[h] . V[i][0..len)) * scale[h] for every row i of v (rows
// of ctx, room positions left in each) and head h < nh: dot_w_v's sums.
// w must be zero from len up to len rounded up to 16.
void llm_att_q8_values_sse2(float *const *out, const int16_t *const *w, const float *scale, int nh,
    const int8_t *v, int ctx, int len, int room, int head_size);
#endif

#if LLM_ATT_Q8_PIE
// Scores of nh (1 or 2) heads over positions [0, n) of the S3's layout
// (kv_cache.h: keys by position): pie 1 with the SIMD (a 16-byte aligned
// cache), 2 without.  max_val[h] gets head h's largest score.
void llm_att_q8_scores_s3(float *const *att, const int8_t *const *q, const float *c, int nh,
    const int8_t *k, const float *ks, int ctx, int n, int head_size, float *max_val, int pie);

// One block of positions [t0, t0 + len) with the SIMD: each head's
// exponentials into att (as the portable code), its weights e * vs * inv
// as int16 codes split into two int8 digits (in wbuf's room), and
// out[h][i] += (weights . V[i]) * scale for values transposed with rows of
// vstride (16-byte aligned).
void llm_att_q8_block_s3(float *const *out, float *const *att, const float *max_val, int nh,
    const int8_t *v, const float *vs, float inv, float scale, int t0, int len, int vstride, int head_size,
    int16_t (*wbuf)[LLM_ATT_Q8_BLOCK]);
#endif

#endif
