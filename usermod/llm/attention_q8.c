#include <math.h>
#include <string.h>
#include "attention_q8_simd.h"
#include "fastexp.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// att[t] = (q . K[t]) * c * ks[t] for t in [t0, t0 + len), portable: one
// pass over positions (contiguous in the transposed cache) per two key rows.
// Two products of codes in [-127, 127] sum within int16, so compilers
// multiply and add in 16 bits and widen once.
static void scores_q8(float *att, const int8_t *q, float c, const int8_t *k, const float *ks,
    int ctx, int t0, int len, int head_size) {
    int32_t acc[SCORE_BLOCK];
    for (int t = 0; t < len; t++) {
        acc[t] = 0;
    }
    int i = 0;
    for (; i + 2 <= head_size; i += 2) {
        int16_t q0 = q[i], q1 = q[i + 1];
        const int8_t *r0 = k + (intptr_t)i * ctx + t0, *r1 = r0 + ctx;
        for (int t = 0; t < len; t++) {
            acc[t] += (int16_t)(q0 * (int16_t)r0[t] + q1 * (int16_t)r1[t]);
        }
    }
    if (i < head_size) {
        int16_t q0 = q[i];
        const int8_t *r0 = k + (intptr_t)i * ctx + t0;
        for (int t = 0; t < len; t++) {
            acc[t] += (int16_t)(q0 * (int16_t)r0[t]);
        }
    }
    for (int t = 0; t < len; t++) {
        att[t0 + t] = (float)acc[t] * (c * ks[t0 + t]);
    }
}


// Scores of nh (1 or 2) query heads over positions [0, n) into att[h],
// their largest into max_val[h], and out[h] zeroed: SIMD where there is
// some, the portable code for what is left.  pie as attention_q8_heads.
static inline void scores_heads(float *const *out, float *const *att, const int8_t *const *q, const float *c,
    int nh, const int8_t *k, const float *ks, int ctx, int n, int head_size, int pie, float *max_val) {
    int done = 0, max_n = 0;
    #if LLM_ATT_Q8_PIE
    if (pie) {
        llm_att_q8_scores_s3(att, q, c, nh, k, ks, ctx, n, head_size, max_val, pie);
        done = max_n = n;
    }
    #elif defined(__SSE2__)
    (void)pie;
    done = llm_att_q8_scores_sse2(att, q, c, nh, k, ks, ctx, n, head_size, max_val, &max_n);
    #else
    (void)pie;
    #endif
    for (int h = 0; h < nh; h++) {
        for (int t0 = done; t0 < n; t0 += SCORE_BLOCK) {
            int len = n - t0 < SCORE_BLOCK ? n - t0 : SCORE_BLOCK;
            scores_q8(att[h], q[h], c[h], k, ks, ctx, t0, len, head_size);
        }
        float mv = max_n > 0 ? max_val[h] : att[h][0];
        for (int t = max_n; t < n; t++) {
            mv = att[h][t] > mv ? att[h][t] : mv;
        }
        max_val[h] = mv;
        for (int i = 0; i < head_size; i++) {
            out[h][i] = 0.0f;
        }
    }
}

// One block of positions [t0, t0 + len) of the values: each head's
// exponentials e = 2**((score - max) log2 e) in att, their weights e * vs
// as int16 codes (scale: the block's largest vs / LLM_ATT_Q8_WMAX; e <= 1
// keeps them within LLM_ATT_Q8_WMAX), and out[h][i] += (weights . V[i]) *
// scale, portable or with SSE2.  rs: the values' row stride.
static inline void values_block(float *const *out, float *const *att, const float *max_val, int nh,
    const int8_t *v, const float *vs, int ctx, int rs, int t0, int len, int head_size, int pie,
    int16_t (*wbuf)[LLM_ATT_Q8_BLOCK]) {
    const float *vst = vs + t0;
    float vmax = 0.0f;
    for (int j = 0; j < len; j++) {
        vmax = vst[j] > vmax ? vst[j] : vmax;
    }
    // All-zero values (vmax 0) give zero codes; the exponentials are still
    // needed for the sum.
    float inv = vmax > 0.0f ? (float)LLM_ATT_Q8_WMAX / vmax : 0.0f;
    float scale[HEADS];
    const int16_t *w[HEADS];
    #if LLM_ATT_Q8_PIE
    if (pie == 1) {
        llm_att_q8_block_s3(out, att, max_val, nh, v, vs, inv, vmax / (float)LLM_ATT_Q8_WMAX, t0, len, rs,
            head_size, wbuf);
        return;
    }
    #else
    (void)pie;
    #endif
    for (int h = 0; h < nh; h++) {
        float *e = att[h] + t0;
        int16_t *wh = wbuf[h];
        w[h] = wh;
        scale[h] = vmax / (float)LLM_ATT_Q8_WMAX;
        for (int j = 0; j < len; j++) {
            e[j] = exp2_soft_k((e[j] - max_val[h]) * LOG2E, 1.0f, 127u - 0x4b400000u);
            // Non-negative, so adding a half and truncating rounds.
            float wj = e[j] * vst[j] * inv + 0.5f;
            wj = wj > (float)LLM_ATT_Q8_WMAX ? (float)LLM_ATT_Q8_WMAX : wj;
            wh[j] = (int16_t)(int32_t)wj;
        }
    }
    #if defined(__SSE2__)
    (void)rs;
    for (int h = 0; h < nh; h++) {
        for (int j = len; j < ((len + 15) & ~15); j++) {
            wbuf[h][j] = 0;  // SIMD padding: the positions past pos weigh nothing
        }
    }
    llm_att_q8_values_sse2(out, w, scale, nh, v + t0, ctx, len, ctx - t0, head_size);
    #else
    (void)ctx;
    for (int h = 0; h < nh; h++) {
        for (int i = 0; i < head_size; i++) {
            out[h][i] += (float)dot_w_v(w[h], v + (intptr_t)i * rs + t0, 0, len) * scale[h];
        }
    }
    #endif
}

// out[h] /= the sum of head h's exponentials (att[h][0..n)).  Four running
// sums, each in position order: the sum then vectorises without
// reassociating float additions, and SIMD and scalar builds agree bit for
// bit.
static inline void normalise_heads(float *const *out, float *const *att, int nh, int n, int head_size) {
    for (int h = 0; h < nh; h++) {
        const float *e = att[h];
        float s4[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        int t = 0;
        #if defined(__SSE2__)
        // The same four lanes in one register.
        __m128 sv = _mm_setzero_ps();
        for (; t + 4 <= n; t += 4) {
            sv = _mm_add_ps(sv, _mm_loadu_ps(e + t));
        }
        _mm_storeu_ps(s4, sv);
        #endif
        for (; t + 4 <= n; t += 4) {
            for (int j = 0; j < 4; j++) {
                s4[j] += e[t + j];
            }
        }
        for (; t < n; t++) {
            s4[0] += e[t];
        }
        float inv_sum = 1.0f / ((s4[0] + s4[1]) + (s4[2] + s4[3]));
        for (int i = 0; i < head_size; i++) {
            out[h][i] *= inv_sum;
        }
    }
}

// nh (1 or 2) query heads over one KV head; see llm_attention_q8i.  pie
// (a constant): 1 the S3's cache layout (kv_cache.h) with its SIMD, 2 that
// layout without, 0 keys and values transposed with rows of ctx.
static inline void attention_q8_heads(float *const *out, float *const *att, const int8_t *const *q, const float *c,
    int nh, const int8_t *k, const float *ks, const int8_t *v, const float *vs, int ctx, int n, int head_size,
    int pie) {
    float max_val[HEADS];
    scores_heads(out, att, q, c, nh, k, ks, ctx, n, head_size, pie, max_val);
    int rs = pie ? llm_kv_vstride_q8(ctx) : ctx;
    for (int t0 = 0; t0 < n; t0 += LLM_ATT_Q8_BLOCK) {
        int len = n - t0 < LLM_ATT_Q8_BLOCK ? n - t0 : LLM_ATT_Q8_BLOCK;
        // 16-byte aligned: the S3 keeps its digits here.
        int16_t wbuf[HEADS][LLM_ATT_Q8_BLOCK] __attribute__((aligned(16)));
        values_block(out, att, max_val, nh, v, vs, ctx, rs, t0, len, head_size, pie, wbuf);
    }
    normalise_heads(out, att, nh, n, head_size);
}

// The query heads of llm_attention_q8i in pairs; pie as attention_q8_heads.
static inline void attention_q8_groups(float *out, float *att, int att_stride, const int8_t *q, const float *qs,
    int nq, const int8_t *k, const float *ks, const int8_t *v, const float *vs, int ctx, int pos, int head_size,
    int pie) {
    float root = sqrtf((float)head_size);
    for (int h0 = 0; h0 < nq; h0 += HEADS) {
        int nh = nq - h0 < HEADS ? nq - h0 : HEADS;
        float *o[HEADS], *a[HEADS], c[HEADS];
        const int8_t *qh[HEADS];
        for (int h = 0; h < nh; h++) {
            o[h] = out + (intptr_t)(h0 + h) * head_size;
            a[h] = att + (intptr_t)(h0 + h) * att_stride;
            qh[h] = q + (intptr_t)(h0 + h) * head_size;
            c[h] = qs[h0 + h] / root;
        }
        // Separate calls with a constant head count let the SIMD loops keep
        // their accumulators in registers.
        if (nh == 2) {
            attention_q8_heads(o, a, qh, c, 2, k, ks, v, vs, ctx, pos + 1, head_size, pie);
        } else {
            attention_q8_heads(o, a, qh, c, 1, k, ks, v, vs, ctx, pos + 1, head_size, pie);
        }
    }
}

void llm_attention_q8i(float *out, float *att, int att_stride, const int8_t *q, const float *qs, int nq,
    const int8_t *k, const float *ks, const int8_t *v, const float *vs, int ctx, int pos, int head_size) {
    attention_q8_groups(out, att, att_stride, q, qs, nq, k, ks, v, vs, ctx, pos, head_size, 0);
}

void llm_attention_q8_cache(float *out, float *att, int att_stride, const int8_t *q, const float *qs, int nq,
    const int8_t *k, const float *ks, const int8_t *v, const float *vs, int ctx, int pos, int head_size) {
    #if LLM_ATT_Q8_PIE
    if ((((uintptr_t)k | (uintptr_t)v) & 15) == 0) {
        attention_q8_groups(out, att, att_stride, q, qs, nq, k, ks, v, vs, ctx, pos, head_size, 1);
        return;
    }
    // A cache that is not 16-byte aligned (never from the GC heap): the
    // same layout without the SIMD.
    attention_q8_groups(out, att, att_stride, q, qs, nq, k, ks, v, vs, ctx, pos, head_size, 2);
    #else
    attention_q8_groups(out, att, att_stride, q, qs, nq, k, ks, v, vs, ctx, pos, head_size, 0);
    #endif
}

// att[t] = (q . K[t]) * inv_root for t < n over transposed keys
// (k[i * ctx + t]), each a sum in index order: four positions at a time,
// four sums in registers per pass over the query.
static inline void scores_f32_fast(float *att, const float *q, const float *k, int ctx, int n, int head_size,
    float inv_root) {
    int t = 0;
    for (; t + 4 <= n; t += 4) {
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        const float *kr = k + t;
        for (int i = 0; i < head_size; i++) {
            float qi = q[i];
            s0 += qi * kr[0];
            s1 += qi * kr[1];
            s2 += qi * kr[2];
            s3 += qi * kr[3];
            kr += ctx;
        }
        att[t] = s0 * inv_root;
        att[t + 1] = s1 * inv_root;
        att[t + 2] = s2 * inv_root;
        att[t + 3] = s3 * inv_root;
    }
    for (; t < n; t++) {
        float s = 0.0f;
        const float *kr = k + t;
        for (int i = 0; i < head_size; i++) {
            s += q[i] * kr[0];
            kr += ctx;
        }
        att[t] = s * inv_root;
    }
}

// out[i] = sum over t < n in position order of (att[t] * inv_sum) * v[t][i],
// from 0.0f, as llm_attention_f32: eight outputs in registers per pass over
// the positions.
static inline void values_f32_fast(float *out, const float *att, float inv_sum, const float *v, int n,
    int head_size) {
    int i = 0;
    for (; i + 8 <= head_size; i += 8) {
        float o0 = 0.0f, o1 = 0.0f, o2 = 0.0f, o3 = 0.0f, o4 = 0.0f, o5 = 0.0f, o6 = 0.0f, o7 = 0.0f;
        const float *vt = v + i;
        for (int t = 0; t < n; t++) {
            float a = att[t] * inv_sum;
            o0 += a * vt[0];
            o1 += a * vt[1];
            o2 += a * vt[2];
            o3 += a * vt[3];
            o4 += a * vt[4];
            o5 += a * vt[5];
            o6 += a * vt[6];
            o7 += a * vt[7];
            vt += head_size;
        }
        out[i] = o0;
        out[i + 1] = o1;
        out[i + 2] = o2;
        out[i + 3] = o3;
        out[i + 4] = o4;
        out[i + 5] = o5;
        out[i + 6] = o6;
        out[i + 7] = o7;
    }
    for (; i < head_size; i++) {
        float o = 0.0f;
        const float *vt = v + i;
        for (int t = 0; t < n; t++) {
            o += (att[t] * inv_sum) * vt[0];
            vt += head_size;
        }
        out[i] = o;
    }
}

void llm_attention_f32_fast(float *out, float *att, const float *q, const float *k, const float *v,
    int ctx, int pos, int head_size) {
    int n = pos + 1;
    // One multiplication by 1 / sqrt(head_size) per score instead of a
    // division: IEEE operations, so every target rounds them alike.
    // The scores in units of ln 2 (exp2_soft_k): times log2(e) too.
    float inv_root = 1.0f / sqrtf((float)head_size) * LOG2E;
    scores_f32_fast(att, q, k, ctx, n, head_size, inv_root);
    int t;
    float max_val = att[0];
    for (t = 1; t < n; t++) {
        max_val = att[t] > max_val ? att[t] : max_val;
    }
    // The exponentials and their sum in four lanes as llm_attention_q8i:
    // vectorised, and the same with or without SIMD.
    #if LLM_ATT_Q8_PIE
    float one = opaque_f(1.0f);
    uint32_t bias = opaque_u(127u - 0x4b400000u);
    #else
    float one = 1.0f;
    uint32_t bias = 127u - 0x4b400000u;
    #endif
    for (t = 0; t < n; t++) {
        att[t] = exp2_soft_k(att[t] - max_val, one, bias);
    }
    float s4[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    for (t = 0; t + 4 <= n; t += 4) {
        for (int j = 0; j < 4; j++) {
            s4[j] += att[t + j];
        }
    }
    for (; t < n; t++) {
        s4[0] += att[t];
    }
    float inv_sum = 1.0f / ((s4[0] + s4[1]) + (s4[2] + s4[3]));
    values_f32_fast(out, att, inv_sum, v, n, head_size);
}
