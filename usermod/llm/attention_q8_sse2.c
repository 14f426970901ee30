// The int8 attention's SSE2 paths (x86-64): attention_q8_simd.h.  Empty
// elsewhere.
#include "attention_q8_simd.h"

#if defined(__SSE2__)
#include <emmintrin.h>
// x86-64: compilers do not turn the pairwise sums of scores_q8 into
// pmaddwd, which takes 4x fewer instructions.  Interleaving two key rows
// byte by byte makes each 32-bit lane one position's q0 * k0 + q1 * k1.
// Unpacking each code into the high byte of an int16 (one instruction, where
// sign extension takes two) multiplies it by 256 exactly; the sums still fit
// int32 (head_size / 2 * 2 * 127 * 127 * 256 < 2**31), and scaling by c / 256
// instead of c gives the same floats as scores_q8, as powers of two scale
// exactly.  Chunks of 16 positions run past n as long as they stay within
// ctx: att has ctx floats, and the extra scores are never read.  Returns
// the positions done; max_val[h] is head h's largest score over the first
// *max_n positions (the chunks wholly below n), when *max_n > 0.  nh is 1
// or 2, a constant where this is inlined.
// a[h][0..3] += the interleaved key codes k0-k3 (16 positions, two rows)
// times head h's pair p of query codes, for h < nh.
static inline void madd_heads(__m128i (*a)[4], __m128i k0, __m128i k1, __m128i k2, __m128i k3,
    const int32_t (*qp)[LLM_MAX_CACHE_HEAD / 2 + 1], int p, int nh) {
    for (int h = 0; h < nh; h++) {
        __m128i qv = _mm_set1_epi32(qp[h][p]);
        a[h][0] = _mm_add_epi32(a[h][0], _mm_madd_epi16(k0, qv));
        a[h][1] = _mm_add_epi32(a[h][1], _mm_madd_epi16(k1, qv));
        a[h][2] = _mm_add_epi32(a[h][2], _mm_madd_epi16(k2, qv));
        a[h][3] = _mm_add_epi32(a[h][3], _mm_madd_epi16(k3, qv));
    }
}

static inline int scores_sse2(float *const *att_in, const int8_t *const *q_in, const float *c_in, int nh,
    const int8_t *k, const float *ks, int ctx, int n, int head_size, float *max_val, int *max_n) {
    // The heads' pointers and scales in locals, which the compiler keeps in
    // registers (the stores through att could otherwise alias the arrays).
    float *att[HEADS];
    float c[HEADS];
    // Each pair of query codes as the two int16 halves of an int32, once.
    int32_t qp[HEADS][LLM_MAX_CACHE_HEAD / 2 + 1];
    for (int h = 0; h < nh; h++) {
        att[h] = att_in[h];
        c[h] = c_in[h];
        for (int i = 0; i < head_size; i += 2) {
            uint16_t hi = i + 1 < head_size ? (uint16_t)q_in[h][i + 1] : 0;
            qp[h][i / 2] = (int32_t)(((uint32_t)hi << 16) | (uint16_t)q_in[h][i]);
        }
    }
    const __m128i z = _mm_setzero_si128();
    __m128 mx[HEADS] = { _mm_set1_ps(-3.4028235e38f), _mm_set1_ps(-3.4028235e38f) };
    int t = 0;
    for (; t < n && t + 16 <= ctx; t += 16) {
        __m128i a[HEADS][4];
        for (int h = 0; h < nh; h++) {
            a[h][0] = a[h][1] = a[h][2] = a[h][3] = z;
        }
        int i = 0;
        for (; i + 2 <= head_size; i += 2) {
            const int8_t *r0 = k + (intptr_t)i * ctx + t;
            __m128i x = _mm_loadu_si128((const __m128i *)r0);
            __m128i y = _mm_loadu_si128((const __m128i *)(r0 + ctx));
            __m128i lo = _mm_unpacklo_epi8(x, y), hi = _mm_unpackhi_epi8(x, y);
            __m128i k0 = _mm_unpacklo_epi8(z, lo), k1 = _mm_unpackhi_epi8(z, lo);
            __m128i k2 = _mm_unpacklo_epi8(z, hi), k3 = _mm_unpackhi_epi8(z, hi);
            madd_heads(a, k0, k1, k2, k3, qp, i / 2, nh);
        }
        if (i < head_size) {
            // Pairs (k, 0) with q's high half 0: the lane is q0 * k * 256.
            __m128i x = _mm_loadu_si128((const __m128i *)(k + (intptr_t)i * ctx + t));
            __m128i lo = _mm_unpacklo_epi8(x, z), hi = _mm_unpackhi_epi8(x, z);
            __m128i k0 = _mm_unpacklo_epi8(z, lo), k1 = _mm_unpackhi_epi8(z, lo);
            __m128i k2 = _mm_unpacklo_epi8(z, hi), k3 = _mm_unpackhi_epi8(z, hi);
            madd_heads(a, k0, k1, k2, k3, qp, i / 2, nh);  // q's high half 0
        }
        for (int h = 0; h < nh; h++) {
            __m128 vc = _mm_set1_ps(c[h] * (1.0f / 256.0f));
            __m128 sc[4];
            for (int j = 0; j < 4; j++) {
                __m128 s = _mm_mul_ps(vc, _mm_loadu_ps(ks + t + 4 * j));
                sc[j] = _mm_mul_ps(_mm_cvtepi32_ps(a[h][j]), s);
                _mm_storeu_ps(att[h] + t + 4 * j, sc[j]);
            }
            if (t + 16 <= n) {
                mx[h] = _mm_max_ps(mx[h], _mm_max_ps(_mm_max_ps(sc[0], sc[1]), _mm_max_ps(sc[2], sc[3])));
            }
        }
        if (t + 16 <= n) {
            *max_n = t + 16;
        }
    }
    for (int h = 0; h < nh; h++) {
        __m128 m = mx[h];
        m = _mm_max_ps(m, _mm_shuffle_ps(m, m, 0x4e));
        m = _mm_max_ps(m, _mm_shuffle_ps(m, m, 0xb1));
        max_val[h] = _mm_cvtss_f32(m);
    }
    return t < n ? t : n;
}

// out[h][i] += (w[h] . V[i][0..len)) * scale[h] for every row i and head h,
// four rows per pass over the weights.  Chunks of 16 positions run up to
// len rounded up to 16 (w must be zero there) where that stays within the
// rows (room positions), else to len rounded down; dot_w_v does the rest.
// The same integer sums as dot_w_v over [0, len).
static inline void values_sse2(float *const *out_in, const int16_t *const *w_in, const float *scale_in, int nh,
    const int8_t *v, int ctx, int len, int room, int head_size) {
    // In locals, as scores_sse2's.
    float *out[HEADS];
    const int16_t *w[HEADS];
    float scale[HEADS];
    for (int h = 0; h < nh; h++) {
        out[h] = out_in[h];
        w[h] = w_in[h];
        scale[h] = scale_in[h];
    }
    int m = (len + 15) & ~15;
    m = m <= room ? m : (len & ~15);
    for (int i = 0; i < head_size; i += 4) {
        int rows = head_size - i < 4 ? head_size - i : 4;
        const int8_t *r[4];
        for (int j = 0; j < 4; j++) {
            // Missing rows repeat the last one; their sums are not stored.
            r[j] = v + (intptr_t)(i + (j < rows ? j : rows - 1)) * ctx;
        }
        __m128i a[HEADS][4];
        for (int h = 0; h < nh; h++) {
            a[h][0] = a[h][1] = a[h][2] = a[h][3] = _mm_setzero_si128();
        }
        for (int t = 0; t < m; t += 16) {
            __m128i w0[HEADS], w1[HEADS];
            for (int h = 0; h < nh; h++) {
                w0[h] = _mm_loadu_si128((const __m128i *)(w[h] + t));
                w1[h] = _mm_loadu_si128((const __m128i *)(w[h] + t + 8));
            }
            for (int j = 0; j < 4; j++) {
                __m128i x = _mm_loadu_si128((const __m128i *)(r[j] + t));
                __m128i xl = _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8);
                __m128i xh = _mm_srai_epi16(_mm_unpackhi_epi8(x, x), 8);
                for (int h = 0; h < nh; h++) {
                    a[h][j] = _mm_add_epi32(a[h][j], _mm_madd_epi16(xl, w0[h]));
                    a[h][j] = _mm_add_epi32(a[h][j], _mm_madd_epi16(xh, w1[h]));
                }
            }
        }
        for (int h = 0; h < nh; h++) {
            for (int j = 0; j < rows; j++) {
                __m128i x = a[h][j];
                x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
                x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
                int32_t dot = _mm_cvtsi128_si32(x) + (m < len ? dot_w_v(w[h], r[j], m, len) : 0);
                out[h][i + j] += (float)dot * scale[h];
            }
        }
    }
}

// The head count as a constant, so that the loops keep their accumulators
// in registers.
int llm_att_q8_scores_sse2(float *const *att, const int8_t *const *q, const float *c, int nh,
    const int8_t *k, const float *ks, int ctx, int n, int head_size, float *max_val, int *max_n) {
    if (nh == 2) {
        return scores_sse2(att, q, c, 2, k, ks, ctx, n, head_size, max_val, max_n);
    }
    return scores_sse2(att, q, c, 1, k, ks, ctx, n, head_size, max_val, max_n);
}

void llm_att_q8_values_sse2(float *const *out, const int16_t *const *w, const float *scale, int nh,
    const int8_t *v, int ctx, int len, int room, int head_size) {
    if (nh == 2) {
        values_sse2(out, w, scale, 2, v, ctx, len, room, head_size);
    } else {
        values_sse2(out, w, scale, 1, v, ctx, len, room, head_size);
    }
}

#endif
