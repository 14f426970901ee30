#include <math.h>
#include <string.h>
#include "kernels.h"
#if defined(__XTENSA__) && defined(LLM_XTENSA_LX7)
#include "kernels_xtensa.h"
#define LLM_X8 (1)
#endif

void llm_matmul_f32(float *out, const float *x, const float *w, int n, int d) {
    // Four rows at a time share each load of x and the loop overhead; every
    // row still sums left to right, so results equal llama2.c's.
    int i = 0;
    #if defined(LLM_X8)
    i = llm_matmul_f32_x8(out, x, w, n, d);
    #endif
    for (; i + 4 <= d; i += 4) {
        const float *r0 = w + (intptr_t)i * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        for (int j = 0; j < n; j++) {
            float xj = x[j];
            s0 += r0[j] * xj;
            s1 += r1[j] * xj;
            s2 += r2[j] * xj;
            s3 += r3[j] * xj;
        }
        out[i] = s0;
        out[i + 1] = s1;
        out[i + 2] = s2;
        out[i + 3] = s3;
    }
    for (; i < d; i++) {
        const float *row = w + (intptr_t)i * n;
        float sum = 0.0f;
        for (int j = 0; j < n; j++) {
            sum += row[j] * x[j];
        }
        out[i] = sum;
    }
}

void llm_quantize_q8(int8_t *xq, float *xs, const float *x, int n, int gs) {
    // Codes stay in [-127, 127] for any input, as converting a float outside
    // int's range (NaN, Inf, x / a tiny maximum) to int is undefined: NaN
    // gives code 0 (fabsf(NaN) > amax is false, so NaN never is the maximum);
    // an infinite maximum gives scale Inf, codes +-127 for +-Inf and 0 for the
    // rest; a maximum so small that 127 / amax would overflow (subnormals)
    // is scaled up by 2^64 first, which is exact.
    for (int g = 0; g < n / gs; g++) {
        const float *xg = x + g * gs;
        float amax = 0.0f;
        for (int j = 0; j < gs; j++) {
            float a = fabsf(xg[j]);
            if (a > amax) {
                amax = a;
            }
        }
        float scale = amax / 127.0f;
        xs[g] = scale;
        if (amax == 0.0f) {
            // Dividing by a zero scale would give NaN codes.
            memset(xq + g * gs, 0, (size_t)gs);
            continue;
        }
        if (amax > 3.4028235e38f) {
            for (int j = 0; j < gs; j++) {
                xq[g * gs + j] = (int8_t)(xg[j] == amax ? 127 : (xg[j] == -amax ? -127 : 0));
            }
            continue;
        }
        float pre = amax < 0x1p-60f ? 0x1p64f : 1.0f;
        float inv = 127.0f / (amax * pre);
        for (int j = 0; j < gs; j++) {
            // roundf without a libm call: |v| <= 127, so v minus its integer
            // part is exact and the comparison decides as roundf would.
            float v = (xg[j] * pre) * inv;
            int r;
            if (v >= -127.0f && v <= 127.0f) {
                r = (int)v;
                float frac = v - (float)r;
                r += (frac >= 0.5f) - (frac <= -0.5f);
            } else {
                r = v > 0.0f ? 127 : (v < 0.0f ? -127 : 0);  // rounding at the edge; NaN
            }
            xq[g * gs + j] = (int8_t)r;
        }
    }
}

float llm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t rest = h & 0x7fff;
    uint32_t bits;
    if (rest >= 0x0400 && rest < 0x7c00) {
        // Normal numbers, the only kind a converter writes for non-zero scales:
        // rebias the exponent (15 -> 127) and widen the mantissa.
        bits = sign | ((rest << 13) + ((uint32_t)(127 - 15) << 23));
    } else if (rest >= 0x7c00) {
        bits = sign | 0x7f800000 | ((rest & 0x3ff) << 13);
    } else if (rest == 0) {
        bits = sign;
    } else {
        // Subnormal half: normalise the mantissa.
        uint32_t exp = 113, mant = rest;
        while ((mant & 0x400) == 0) {
            mant <<= 1;
            exp--;
        }
        bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

// Integer dot products: any order of integer additions gives the same
// result, so they are free to regroup.  Unrolled by four with two
// accumulators, as MCU compilers at -O2 do not unroll and the loop overhead
// would cost as much as the multiply-adds.
static inline int32_t dot_q8(const int8_t *a, const int8_t *b, int n) {
    int32_t d0 = 0, d1 = 0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        d0 += (int32_t)a[j] * (int32_t)b[j] + (int32_t)a[j + 1] * (int32_t)b[j + 1];
        d1 += (int32_t)a[j + 2] * (int32_t)b[j + 2] + (int32_t)a[j + 3] * (int32_t)b[j + 3];
    }
    for (; j < n; j++) {
        d0 += (int32_t)a[j] * (int32_t)b[j];
    }
    return d0 + d1;
}

#if defined(__SSE2__)
#include <emmintrin.h>
// SSE2 (x86-64 hosts): x's codes are widened to int16 once per matmul, and
// each row's int8 weights are widened in registers for pmaddwd.
#define LLM_WIDE_X_MAX (16384)
static inline __m128i widen_lo(__m128i v) {
    return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
}
static inline __m128i widen_hi(__m128i v) {
    return _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8);
}
static inline int32_t dot_q8_wide(const int8_t *a, const int16_t *x, int n) {
    __m128i acc = _mm_setzero_si128();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m128i va = _mm_loadu_si128((const __m128i *)(a + j));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(widen_lo(va), _mm_loadu_si128((const __m128i *)(x + j))));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(widen_hi(va), _mm_loadu_si128((const __m128i *)(x + j + 8))));
    }
    if (j + 8 <= n) {
        __m128i va = _mm_loadl_epi64((const __m128i *)(a + j));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(widen_lo(va), _mm_loadu_si128((const __m128i *)(x + j))));
        j += 8;
    }
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4e));
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0xb1));
    int32_t dot = _mm_cvtsi128_si32(acc);
    for (; j < n; j++) {
        dot += (int32_t)a[j] * (int32_t)x[j];
    }
    return dot;
}
#endif

void llm_matmul_q8(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs) {
    int groups = n / gs;
    #if defined(__SSE2__)
    int16_t xw[LLM_WIDE_X_MAX];
    int wide = n <= LLM_WIDE_X_MAX;
    for (int j = 0; wide && j < n; j++) {
        xw[j] = xq[j];
    }
    #endif
    for (int i = 0; i < d; i++) {
        const int8_t *row = w + (intptr_t)i * n;
        const uint16_t *row_scales = ws + (intptr_t)i * groups;
        float sum = 0.0f;
        for (int g = 0; g < groups; g++) {
            #if defined(__SSE2__)
            int32_t dot = wide ? dot_q8_wide(row + g * gs, xw + g * gs, gs) : dot_q8(row + g * gs, xq + g * gs, gs);
            #else
            int32_t dot = dot_q8(row + g * gs, xq + g * gs, gs);
            #endif
            sum += (float)dot * llm_f16_to_f32(row_scales[g]) * xs[g];
        }
        out[i] = sum;
    }
}

void llm_rmsnorm(float *out, const float *x, const float *weight, int n) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) {
        ss += x[j] * x[j];
    }
    ss /= (float)n;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) {
        out[j] = weight[j] * (ss * x[j]);
    }
}

void llm_softmax(float *x, int n) {
    float max_val = x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] > max_val) {
            max_val = x[i];
        }
    }
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max_val);
        sum += x[i];
    }
    #if defined(LLM_X8)
    llm_div_all(x, n, sum);
    return;
    #endif
    for (int i = 0; i < n; i++) {
        x[i] /= sum;
    }
}

int llm_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (x[i] > x[best]) {
            best = i;
        }
    }
    return best;
}

void llm_swiglu(float *hb, const float *hb2, int n) {
    for (int i = 0; i < n; i++) {
        float val = hb[i];
        val *= 1.0f / (1.0f + expf(-val));
        hb[i] = val * hb2[i];
    }
}

void llm_rope_freqs(float *freq, int head_size) {
    for (int k = 0; k < head_size / 2; k++) {
        freq[k] = 1.0f / powf(10000.0f, (float)(2 * k) / (float)head_size);
    }
}

void llm_rope_table(float *fcos, float *fsin, const float *freq, int head_size, int pos) {
    for (int k = 0; k < head_size / 2; k++) {
        float val = (float)pos * freq[k];
        fcos[k] = cosf(val);
        fsin[k] = sinf(val);
    }
}

// Doubles from here on: the basic IEEE operations alone, which every target
// (x86 SSE2, soft-float Cortex-M, the S3's soft doubles) rounds identically,
// so the portable RoPE table is the same bits everywhere.  libm's sinf and
// powf differ by an ulp between C libraries, and int8 quantisation of q and
// k turns one ulp into a different code, then a different token.

// e**x for |x| < 700: 2**n * e**r, |r| <= ln2 / 2, Taylor to r**17 (error
// below 1e-17 relative).
static double exp_portable(double x) {
    const double ln2_hi = 6.93147180369123816490e-01;  // 32 bits: n * ln2_hi exact
    const double ln2_lo = 1.90821492927058770002e-10;
    double nf = x * 1.44269504088896338700 + 6755399441055744.0 - 6755399441055744.0;
    double r = (x - nf * ln2_hi) - nf * ln2_lo;
    double term = 1.0, sum = 1.0;
    for (int i = 1; i <= 17; i++) {
        term *= r / i;
        sum += term;
    }
    int n = (int)nf;
    double scale = 1.0;
    for (; n > 0; n--) {
        scale *= 2.0;
    }
    for (; n < 0; n++) {
        scale *= 0.5;
    }
    return sum * scale;
}

// cos and sin of x for |x| < 2**20: x - k pi/2 in three parts (Cody and
// Waite; k * each part is exact), then Taylor series on |r| <= pi/4.
static void sincos_portable(double x, double *c, double *s) {
    const double pio2_1 = 1.57079632673412561417e+00;  // 33 bits
    const double pio2_2 = 6.07710050630396597660e-11;  // 33 bits
    const double pio2_3 = 2.02226624879595063154e-21;
    double kf = x * 6.36619772367581382433e-01 + 6755399441055744.0 - 6755399441055744.0;
    double r = ((x - kf * pio2_1) - kf * pio2_2) - kf * pio2_3;
    double r2 = r * r, sr = r, cr = 1.0, ts = r, tc = 1.0;
    for (int i = 1; i <= 11; i++) {
        ts *= -r2 / ((2 * i) * (2 * i + 1));
        tc *= -r2 / ((2 * i - 1) * (2 * i));
        sr += ts;
        cr += tc;
    }
    switch ((int)kf & 3) {
        case 0: *c = cr; *s = sr; break;
        case 1: *c = -sr; *s = cr; break;
        case 2: *c = -cr; *s = -sr; break;
        default: *c = sr; *s = -cr; break;
    }
}

void llm_rope_table_portable(float *fcos, float *fsin, int head_size, int pos) {
    const double ln_10000 = 9.21034037197618273607;
    for (int k = 0; k < head_size / 2; k++) {
        // As llama2.c: a float frequency, a float angle, float cos and sin.
        float power = (float)(2 * k) / (float)head_size;
        float freq = 1.0f / (float)exp_portable(ln_10000 * (double)power);
        float val = (float)pos * freq;
        double c, s;
        sincos_portable((double)val, &c, &s);
        fcos[k] = (float)c;
        fsin[k] = (float)s;
    }
}

void llm_rope_apply(float *vec, const float *fcos, const float *fsin, int n, int head_size) {
    for (int i = 0; i < n; i += 2) {
        int k = (i % head_size) / 2;
        float v0 = vec[i];
        float v1 = vec[i + 1];
        vec[i] = v0 * fcos[k] - v1 * fsin[k];
        vec[i + 1] = v0 * fsin[k] + v1 * fcos[k];
    }
}

// att[t] = (q . K[t]) / sqrt(head_size) for t in 0..pos, with K[t][i] at
// k[t * kt + i * ki].  The sum over i runs in order for every t, as in
// llama2.c; looping over t innermost lets a transposed cache (kt == 1) use
// SIMD across positions without changing a single rounding.
static void attention_scores(float *att, const float *q, const float *k, int kt, int ki, int pos, int head_size) {
    int n = pos + 1;
    for (int t = 0; t < n; t++) {
        att[t] = 0.0f;
    }
    for (int i = 0; i < head_size; i++) {
        float qi = q[i];
        const float *col = k + (intptr_t)i * ki;
        if (kt == 1) {
            for (int t = 0; t < n; t++) {
                att[t] += qi * col[t];
            }
        } else {
            for (int t = 0; t < n; t++) {
                att[t] += qi * col[(intptr_t)t * kt];
            }
        }
    }
}

void llm_attention_f32(float *out, float *att, const float *q,
    const float *k, int kt, int ki, const float *v, int vt, int pos, int head_size) {
    float root = sqrtf((float)head_size);
    #if defined(LLM_X8)
    if (kt == 1 && head_size % 8 == 0) {
        // The same sums as below, eight dimensions per pass in registers.
        for (int i0 = 0; i0 < head_size; i0 += 8) {
            llm_scores_x8(att, q + i0, k + (intptr_t)i0 * ki, ki, pos + 1, i0 == 0);
        }
        llm_div_all(att, pos + 1, root);
        llm_softmax(att, pos + 1);
        for (int i0 = 0; i0 < head_size; i0 += 8) {
            llm_values_x8(out + i0, att, v + i0, vt, pos + 1);
        }
        return;
    }
    #endif
    attention_scores(att, q, k, kt, ki, pos, head_size);
    for (int t = 0; t <= pos; t++) {
        att[t] /= root;
    }
    llm_softmax(att, pos + 1);
    memset(out, 0, (size_t)head_size * sizeof(float));
    // Four positions per pass over out: each out[i] still adds them in order.
    int t = 0;
    for (; t + 4 <= pos + 1; t += 4) {
        const float *v0 = v + (intptr_t)t * vt, *v1 = v0 + vt, *v2 = v1 + vt, *v3 = v2 + vt;
        float a0 = att[t], a1 = att[t + 1], a2 = att[t + 2], a3 = att[t + 3];
        for (int i = 0; i < head_size; i++) {
            float o = out[i];
            o += a0 * v0[i];
            o += a1 * v1[i];
            o += a2 * v2[i];
            o += a3 * v3[i];
            out[i] = o;
        }
    }
    for (; t <= pos; t++) {
        const float *vt_row = v + (intptr_t)t * vt;
        float a = att[t];
        for (int i = 0; i < head_size; i++) {
            out[i] += a * vt_row[i];
        }
    }
}

void llm_attention_q8(float *out, float *att, const float *q,
    const int8_t *k, const float *ks, const int8_t *v, const float *vs,
    int ctx, int pos, int head_size) {
    float root = sqrtf((float)head_size);
    int n = pos + 1;
    for (int t = 0; t < n; t++) {
        att[t] = 0.0f;
    }
    for (int i = 0; i < head_size; i++) {
        float qi = q[i];
        const int8_t *col = k + (intptr_t)i * ctx;
        for (int t = 0; t < n; t++) {
            att[t] += qi * (float)col[t];
        }
    }
    for (int t = 0; t < n; t++) {
        att[t] = att[t] * ks[t] / root;
    }
    llm_softmax(att, n);
    memset(out, 0, (size_t)head_size * sizeof(float));
    for (int t = 0; t < n; t++) {
        const int8_t *vt_row = v + (intptr_t)t * head_size;
        float a = att[t] * vs[t];
        for (int i = 0; i < head_size; i++) {
            out[i] += a * (float)vt_row[i];
        }
    }
}
