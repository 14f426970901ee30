#include <math.h>
#include <string.h>
#include "attention_q8.h"
#include "kernels.h"
#include "transformer.h"  // LLM_MAX_CACHE_HEAD
#if LLM_ATT_Q8_PIE
// llm_div_s3, the S3's division inline; the header's other kernels are
// kernels.c's, unused here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "kernels_xtensa.h"
#pragma GCC diagnostic pop
#endif

// A float's bits and back: on the S3 register to register (kernels_xtensa.h;
// GCC goes through the stack for memcpy).
#if LLM_ATT_Q8_PIE
#define f2bits llm_fbits
#define bits2f llm_bitsf
#else
static inline uint32_t f2bits(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, sizeof(u));
    return u;
}
static inline float bits2f(uint32_t u) {
    float f;
    __builtin_memcpy(&f, &u, sizeof(f));
    return f;
}
#endif

// e**x as 2**n * p(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2],
// for x clamped to [-87.33, 88] (x <= 88 given: exp_fast_le88).
// Branch-free and inlined so that compilers vectorise the loops that call it
// (x86) and it stays a dozen scalar float operations elsewhere (Xtensa).
// one is 1.0f and bias 127 - 0x4b400000 (mod 2**32), as arguments so that
// a loop can hold them in registers (see opaque_f).
static inline float exp_fast_k(float x, float one, uint32_t bias) {
    // Clamping keeps 2**n a normal float (-126 <= n <= 127); below -87.33
    // the result stays at about 1.2e-38 instead of going to 0, which no
    // softmax or sigmoid can tell apart, and saves a select.
    float xc = x < -87.33f ? -87.33f : x;
    // Adding 1.5 * 2**23 rounds to the nearest integer in the low mantissa bits.
    float t = xc * 1.44269504f + 12582912.0f;
    float n = t - 12582912.0f;
    // ln 2 in two parts (Cody and Waite): n * 0.693359375 is exact for |n| < 2**15.
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    // 1 + r + r**2 P(r): P fitted to the relative error of e**r on the
    // interval (weighted least squares towards minimax): 1.05e-7 at most.
    float p = 8.312505670e-3f;
    p = p * r + 4.189007729e-2f;
    p = p * r + 1.666711420e-1f;
    p = p * r + 4.999923110e-1f;
    p = p * r * r + r + one;
    // t's bits are 0x4b400000 + n; move n + 127 into the exponent field.
    uint32_t sb = (f2bits(t) + bias) << 23;
    return p * bits2f(sb);
}

// The softmax's exponential, 2**y for y <= 0: a score minus the largest,
// times LOG2E (llm_attention_f32_fast folds LOG2E into its scores' scale;
// the integer attention multiplies here, since folding it into c made GCC
// for Xtensa spill a constant in the S3's exponential loop).  2**y is
// 2**n * p(f), n = round(y), f = y - n in [-1/2, 1/2] (exact); p is a cubic
// with p(0) = 1 (so the largest score weighs exactly 1) fitted to the
// minimax relative error of 2**f: 1.02e-4, 1.06e-4 at most against e**x
// with the float roundings (the rounding of y adds about |y| 2**-24 ln 2).
// Perplexity does not see it (tests/test_int8_quality.py), and it takes
// 10 fewer operations than exp_fast_k.  y is clamped to -126 so that 2**n
// stays a normal float (e**x below about 1.2e-38 stays there).  one and
// bias as exp_fast_k's.
#define LOG2E (1.44269504f)
static inline float exp2_soft_k(float y, float one, uint32_t bias) {
    y = y < -126.0f ? -126.0f : y;
    float t = y + 12582912.0f;
    float f = y - (t - 12582912.0f);
    float p = 5.500892922e-2f;
    p = p * f + 2.422109544e-1f;
    p = p * f + 6.932829022e-1f;
    p = p * f + one;
    uint32_t sb = (f2bits(t) + bias) << 23;
    return p * bits2f(sb);
}

static inline float exp_fast_le88(float x) {
    return exp_fast_k(x, 1.0f, 127u - 0x4b400000u);
}

// x, which the compiler then cannot rematerialise: GCC for Xtensa reloads
// float constants from literal pools inside loops (two instructions each)
// rather than keep them in registers.
#if LLM_ATT_Q8_PIE
static inline float opaque_f(float x) {
    __asm__ ("" : "+f" (x));
    return x;
}
static inline uint32_t opaque_u(uint32_t x) {
    __asm__ ("" : "+r" (x));
    return x;
}
#endif

static inline float exp_fast(float x) {
    return exp_fast_le88(x > 88.0f ? 88.0f : x);
}

void llm_exp_fast(float *x, int n) {
    for (int i = 0; i < n; i++) {
        x[i] = exp_fast(x[i]);
    }
}

void llm_swiglu_fast(float *hb, const float *hb2, int n) {
    #if LLM_ATT_Q8_PIE
    // The same operations: the division inline (kernels_xtensa.h: the FPU's
    // sequence that libgcc's __divsf3 runs, so the same bits), so that the
    // constants stay in registers instead of being reloaded around a call.
    float one = opaque_f(1.0f), cap = opaque_f(88.0f);
    uint32_t bias = opaque_u(127u - 0x4b400000u);
    for (int i = 0; i < n; i++) {
        float val = hb[i], x = -val;
        val *= llm_div_s3(one, one + exp_fast_k(x > cap ? cap : x, one, bias));
        hb[i] = val * hb2[i];
    }
    #else
    for (int i = 0; i < n; i++) {
        float val = hb[i];
        val *= 1.0f / (1.0f + exp_fast(-val));
        hb[i] = val * hb2[i];
    }
    #endif
}

// Scores in blocks whose int32 sums fit on the stack.
#define SCORE_BLOCK (64)

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

// w . row over positions [from, to): compilers vectorise it.
static inline int32_t dot_w_v(const int16_t *w, const int8_t *row, int from, int to) {
    int32_t dot = 0;
    for (int j = from; j < to; j++) {
        dot += (int32_t)w[j] * (int32_t)row[j];
    }
    return dot;
}

// Query heads that share a KV head (grouped-query attention) are done in
// pairs: the SIMD paths load and unpack each key and value once for both.
#define HEADS (2)

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
static inline int scores_q8_sse2(float *const *att, const int8_t *const *q, const float *c, int nh,
    const int8_t *k, const float *ks, int ctx, int n, int head_size, float *max_val, int *max_n) {
    const __m128i z = _mm_setzero_si128();
    __m128 mx[HEADS] = { _mm_set1_ps(-3.4028235e38f), _mm_set1_ps(-3.4028235e38f) };
    // Each pair of query codes as the two int16 halves of an int32, once.
    int32_t qp[HEADS][LLM_MAX_CACHE_HEAD / 2 + 1];
    for (int h = 0; h < nh; h++) {
        for (int i = 0; i < head_size; i += 2) {
            uint16_t hi = i + 1 < head_size ? (uint16_t)q[h][i + 1] : 0;
            qp[h][i / 2] = (int32_t)(((uint32_t)hi << 16) | (uint16_t)q[h][i]);
        }
    }
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
            for (int h = 0; h < nh; h++) {
                __m128i qv = _mm_set1_epi32(qp[h][i / 2]);
                a[h][0] = _mm_add_epi32(a[h][0], _mm_madd_epi16(k0, qv));
                a[h][1] = _mm_add_epi32(a[h][1], _mm_madd_epi16(k1, qv));
                a[h][2] = _mm_add_epi32(a[h][2], _mm_madd_epi16(k2, qv));
                a[h][3] = _mm_add_epi32(a[h][3], _mm_madd_epi16(k3, qv));
            }
        }
        if (i < head_size) {
            // Pairs (k, 0) with q's high half 0: the lane is q0 * k * 256.
            __m128i x = _mm_loadu_si128((const __m128i *)(k + (intptr_t)i * ctx + t));
            __m128i lo = _mm_unpacklo_epi8(x, z), hi = _mm_unpackhi_epi8(x, z);
            __m128i k0 = _mm_unpacklo_epi8(z, lo), k1 = _mm_unpackhi_epi8(z, lo);
            __m128i k2 = _mm_unpacklo_epi8(z, hi), k3 = _mm_unpackhi_epi8(z, hi);
            for (int h = 0; h < nh; h++) {
                __m128i qv = _mm_set1_epi32(qp[h][i / 2]);  // high half 0
                a[h][0] = _mm_add_epi32(a[h][0], _mm_madd_epi16(k0, qv));
                a[h][1] = _mm_add_epi32(a[h][1], _mm_madd_epi16(k1, qv));
                a[h][2] = _mm_add_epi32(a[h][2], _mm_madd_epi16(k2, qv));
                a[h][3] = _mm_add_epi32(a[h][3], _mm_madd_epi16(k3, qv));
            }
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
static inline void values_q8_sse2(float *const *out, const int16_t *const *w, const float *scale, int nh,
    const int8_t *v, int ctx, int len, int room, int head_size) {
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
#endif

#if LLM_ATT_Q8_PIE
// ESP32-S3: the SIMD (PIE) multiplies 16 int8 pairs and adds them into its
// 40-bit accumulator in one instruction; these use only the instructions the
// emulated core has (ee.zero.accx, ee.vld.128.ip, ee.vmulas.s8.accx,
// rur.accx_0).  Sums here fit int32, so the accumulator's low word is the
// portable code's int32 sum.  GCC never touches the q registers or the
// accumulator, so each asm statement owns them.

// Sum of a[j] * b[j] over chunks * 16 int8s, a and b 16-byte aligned.
static inline int32_t pie_dot_s8(const int8_t *a, const int8_t *b, int chunks) {
    int32_t r;
    __asm__ volatile (
        "ee.zero.accx\n"
        "loopnez %[n], .Lpie_dot_end%=\n"
        "ee.vld.128.ip q0, %[a], 16\n"
        "ee.vld.128.ip q1, %[b], 16\n"
        "ee.vmulas.s8.accx q0, q1\n"
        ".Lpie_dot_end%=:\n"
        "rur.accx_0 %[r]\n"
        : [r] "=r" (r), [a] "+r" (a), [b] "+r" (b)
        : [n] "r" (chunks)
        : "memory");  // reads chunks * 16 bytes: every store before it must be done
    return r;
}

// One head's scores over the S3 layout (keys by position, kstride bytes
// apart): att[t] = (q . K[t]) * (c * ks[t]) as scores_q8, for t < n; returns
// the largest.  qv holds the query twice, each qlen bytes (a multiple of 16):
// q then zeros, for positions that start a 16-byte chunk, and 8 zeros then q,
// for positions that start in its middle (kstride = 8 mod 16).
// kstride 8 (head_size <= 8): one chunk holds positions 2p and 2p + 1.
// acc[2p] and acc[2p + 1] for p < pairs, each one multiply-add instruction.
static inline void pie_scores_k8(int32_t *acc, const int8_t *qv, const int8_t *k, int pairs) {
    int32_t tmp;
    __asm__ volatile (
        "ee.vld.128.ip q2, %[q], 16\n"
        "ee.vld.128.ip q3, %[q], 16\n"
        "loopnez %[n], .Lpie_k8_end%=\n"
        "ee.vld.128.ip q0, %[k], 16\n"
        "ee.zero.accx\n"
        "ee.vmulas.s8.accx q0, q2\n"
        "rur.accx_0 %[t]\n"
        "s32i %[t], %[a], 0\n"
        "ee.zero.accx\n"
        "ee.vmulas.s8.accx q0, q3\n"
        "rur.accx_0 %[t]\n"
        "s32i %[t], %[a], 4\n"
        "addi %[a], %[a], 8\n"
        ".Lpie_k8_end%=:\n"
        : [q] "+r" (qv), [k] "+r" (k), [a] "+r" (acc), [t] "=&r" (tmp)
        : [n] "r" (pairs)
        : "memory");
}

static float scores_pie(float *att, const int8_t *qv, int qlen, float c, const int8_t *k, int kstride,
    const float *ks, int n) {
    int32_t acc[SCORE_BLOCK];
    int chunks = qlen / 16;
    float mv = 0.0f;
    for (int t0 = 0; t0 < n; t0 += SCORE_BLOCK) {
        int len = n - t0 < SCORE_BLOCK ? n - t0 : SCORE_BLOCK;
        if (kstride == 8) {
            pie_scores_k8(acc, qv, k + (intptr_t)t0 * 8, (len + 1) / 2);
        } else {
            for (int j = 0; j < len; j++) {
                int off = (t0 + j) * kstride;
                acc[j] = pie_dot_s8((off & 8) ? qv + qlen : qv, k + (off & ~15), chunks);
            }
        }
        if (t0 == 0) {
            mv = (float)acc[0] * (c * ks[0]);
        }
        for (int j = 0; j < len; j++) {
            float s = (float)acc[j] * (c * ks[t0 + j]);
            att[t0 + j] = s;
            mv = s > mv ? s : mv;
        }
    }
    return mv;
}
#endif

// nh (1 or 2) query heads over one KV head; see llm_attention_q8i.  pie
// (a constant): the S3's cache layout and SIMD (attention_q8.h), else
// keys and values transposed with rows of ctx.
static inline void attention_q8_heads(float *const *out, float *const *att, const int8_t *const *q, const float *c,
    int nh, const int8_t *k, const float *ks, const int8_t *v, const float *vs, int ctx, int n, int head_size,
    int pie) {
    // SIMD where there is some; the portable code takes what is left.
    int done = 0, max_n = 0;
    float max_val[HEADS];
    #if LLM_ATT_Q8_PIE
    int vstride = llm_kv_q8_vstride(ctx);
    if (pie == 1) {
        int kstride = llm_kv_q8_kstride(head_size);
        int qlen = (kstride + 15) & ~15;
        for (int h = 0; h < nh; h++) {
            int8_t qv[2 * (LLM_MAX_CACHE_HEAD + 16)] __attribute__((aligned(16)));
            memset(qv, 0, (size_t)qlen * 2);
            memcpy(qv, q[h], (size_t)head_size);
            memcpy(qv + qlen + 8, q[h], (size_t)head_size);
            max_val[h] = scores_pie(att[h], qv, qlen, c[h], k, kstride, ks, n);
        }
        done = max_n = n;
    } else if (pie == 2) {
        // The S3's layout without the SIMD: keys by position.
        int kstride = llm_kv_q8_kstride(head_size);
        for (int h = 0; h < nh; h++) {
            for (int t = 0; t < n; t++) {
                int32_t acc = 0;
                for (int i = 0; i < head_size; i++) {
                    acc += (int32_t)q[h][i] * k[(intptr_t)t * kstride + i];
                }
                float sc = (float)acc * (c[h] * ks[t]);
                att[h][t] = sc;
                max_val[h] = (t == 0 || sc > max_val[h]) ? sc : max_val[h];
            }
        }
        done = max_n = n;
    }
    #elif defined(__SSE2__)
    (void)pie;
    done = scores_q8_sse2(att, q, c, nh, k, ks, ctx, n, head_size, max_val, &max_n);
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

    // Values: the weights att[t] * vs[t] as int16 codes, one scale per block:
    // att[t] <= 1, so codes stay within LLM_ATT_Q8_WMAX of the block's
    // largest vs.
    for (int t0 = 0; t0 < n; t0 += LLM_ATT_Q8_BLOCK) {
        int len = n - t0 < LLM_ATT_Q8_BLOCK ? n - t0 : LLM_ATT_Q8_BLOCK;
        const float *vst = vs + t0;
        float vmax = 0.0f;
        for (int j = 0; j < len; j++) {
            vmax = vst[j] > vmax ? vst[j] : vmax;
        }
        // All-zero values (vmax 0) give zero codes; the exponentials are
        // still needed for the sum.
        float inv = vmax > 0.0f ? (float)LLM_ATT_Q8_WMAX / vmax : 0.0f;
        float scale[HEADS];
        // 16-byte aligned: the S3 keeps its digits here (below).
        int16_t wbuf[HEADS][LLM_ATT_Q8_BLOCK] __attribute__((aligned(16)));
        const int16_t *w[HEADS];
        #if LLM_ATT_Q8_PIE
        // The S3 keeps each code as two int8 digits, w = 256 hi + lo, zero
        // past len: two int8 sums per row give w . row exactly.
        // They take wbuf's room (the same size), which the S3 path does not
        // use otherwise: the attention may run on a worker task's small stack.
        int8_t (*dig)[2][LLM_ATT_Q8_BLOCK] = (int8_t (*)[2][LLM_ATT_Q8_BLOCK])(void *)wbuf;
        #endif
        for (int h = 0; h < nh; h++) {
            float *e = att[h] + t0;
            int16_t *wh = wbuf[h];
            w[h] = wh;
            scale[h] = vmax / (float)LLM_ATT_Q8_WMAX;
            #if LLM_ATT_Q8_PIE
            if (pie == 1) {
                // Two loops, so that each keeps its constants in the S3's
                // 16 float registers; the same operations.
                float mv = max_val[h], one = opaque_f(1.0f), half = opaque_f(0.5f);
                uint32_t bias = opaque_u(127u - 0x4b400000u);
                for (int j = 0; j < len; j++) {
                    e[j] = exp2_soft_k((e[j] - mv) * LOG2E, one, bias);
                }
                int8_t *hi = dig[h][0], *lo = dig[h][1];
                for (int j = 0; j < len; j++) {
                    float wj = e[j] * vst[j] * inv + half;
                    wj = wj > (float)LLM_ATT_Q8_WMAX ? (float)LLM_ATT_Q8_WMAX : wj;
                    int32_t wi = (int32_t)wj;
                    int32_t l = (int32_t)(int8_t)(uint8_t)wi;
                    hi[j] = (int8_t)((wi - l) >> 8);
                    lo[j] = (int8_t)l;
                }
                continue;
            }
            #endif
            for (int j = 0; j < len; j++) {
                e[j] = exp2_soft_k((e[j] - max_val[h]) * LOG2E, 1.0f, 127u - 0x4b400000u);
                // Non-negative, so adding a half and truncating rounds.
                float wj = e[j] * vst[j] * inv + 0.5f;
                wj = wj > (float)LLM_ATT_Q8_WMAX ? (float)LLM_ATT_Q8_WMAX : wj;
                wh[j] = (int16_t)(int32_t)wj;
            }
        }
        #if LLM_ATT_Q8_PIE
        if (pie == 1) {
            int len16 = (len + 15) & ~15, chunks = len16 / 16;
            for (int h = 0; h < nh; h++) {
                for (int j = len; j < len16; j++) {
                    dig[h][0][j] = dig[h][1][j] = 0;
                }
                for (int i = 0; i < head_size; i++) {
                    const int8_t *row = v + (intptr_t)i * vstride + t0;
                    int32_t dot = pie_dot_s8(dig[h][0], row, chunks) * 256 + pie_dot_s8(dig[h][1], row, chunks);
                    out[h][i] += (float)dot * scale[h];
                }
            }
            continue;
        }
        #endif
        #if defined(__SSE2__)
        for (int h = 0; h < nh; h++) {
            for (int j = len; j < ((len + 15) & ~15); j++) {
                wbuf[h][j] = 0;  // SIMD padding: the positions past pos weigh nothing
            }
        }
        values_q8_sse2(out, w, scale, nh, v + t0, ctx, len, ctx - t0, head_size);
        #else
        #if LLM_ATT_Q8_PIE
        int rs = pie ? vstride : ctx;
        #else
        int rs = ctx;
        #endif
        for (int h = 0; h < nh; h++) {
            for (int i = 0; i < head_size; i++) {
                out[h][i] += (float)dot_w_v(w[h], v + (intptr_t)i * rs + t0, 0, len) * scale[h];
            }
        }
        #endif
    }

    for (int h = 0; h < nh; h++) {
        // Four running sums, each in position order: the sum then vectorises
        // without reassociating float additions, and SIMD and scalar builds
        // agree bit for bit.
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

void llm_attention_f32_fast(float *out, float *att, const float *q, const float *k, const float *v,
    int ctx, int pos, int head_size) {
    int n = pos + 1;
    // One multiplication by 1 / sqrt(head_size) per score instead of a
    // division: IEEE operations, so every target rounds them alike.
    // The scores in units of ln 2 (exp2_soft_k): times log2(e) too.
    float inv_root = 1.0f / sqrtf((float)head_size) * LOG2E;
    // Scores four positions at a time, each a sum in index order: four sums
    // in registers per pass over the query (transposed keys: k[i * ctx + t]).
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
    // out[i] = sum over t in position order of (att[t] * inv_sum) * v[t][i],
    // from 0.0f, as llm_attention_f32: eight outputs in registers per pass
    // over the positions.
    int i = 0;
    for (; i + 8 <= head_size; i += 8) {
        float o0 = 0.0f, o1 = 0.0f, o2 = 0.0f, o3 = 0.0f, o4 = 0.0f, o5 = 0.0f, o6 = 0.0f, o7 = 0.0f;
        const float *vt = v + i;
        for (t = 0; t < n; t++) {
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
        for (t = 0; t < n; t++) {
            o += (att[t] * inv_sum) * vt[0];
            vt += head_size;
        }
        out[i] = o;
    }
}
