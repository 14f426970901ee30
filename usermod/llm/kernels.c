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

// The common case of llm_quantize_q8's groups, the same codes and scale in
// fewer instructions: the largest |x| from the bits (integer maxima; NaN and
// Inf have bits above every finite value), and when it is finite and at
// least 2**-60, codes without the range checks, which such a group never
// needs (|x * 127 / amax| <= 127 up to one rounding).  Returns 0, having
// written nothing, for any other group.
typedef uint32_t __attribute__((may_alias)) llm_u32_alias_t;

static int quantize_group_finite(int8_t *q, float *scale, const float *x, int len) {
    const llm_u32_alias_t *bits = (const llm_u32_alias_t *)x;
    uint32_t amax_bits = 0;
    for (int j = 0; j < len; j++) {
        uint32_t b = bits[j] & 0x7fffffffu;
        amax_bits = b > amax_bits ? b : amax_bits;
    }
    // 0x21800000 is 2**-60; 0x7f800000 Inf.
    if (amax_bits < 0x21800000u || amax_bits >= 0x7f800000u) {
        return 0;
    }
    float amax;
    __builtin_memcpy(&amax, &amax_bits, sizeof(amax));
    *scale = amax / 127.0f;
    float inv = 127.0f / amax;
    for (int j = 0; j < len; j++) {
        // roundf without a libm call, as below.
        float v = x[j] * inv;
        int32_t r = (int32_t)v;
        float frac = v - (float)r;
        r += (frac >= 0.5f) - (frac <= -0.5f);
        q[j] = (int8_t)r;
    }
    return 1;
}

void llm_quantize_q8(int8_t *xq, float *xs, const float *x, int n, int gs) {
    // Codes stay in [-127, 127] for any input, as converting a float outside
    // int's range (NaN, Inf, x / a tiny maximum) to int is undefined: NaN
    // gives code 0 (fabsf(NaN) > amax is false, so NaN never is the maximum);
    // an infinite maximum gives scale Inf, codes +-127 for +-Inf and 0 for the
    // rest; a maximum so small that 127 / amax would overflow (subnormals)
    // is scaled up by 2^64 first, which is exact.
    // When gs does not divide n, the last group is short and its codes are
    // padded with zeros to gs (rows of padded int8 tensors, docs/format.md).
    int groups = (n + gs - 1) / gs;
    for (int g = 0; g < groups; g++) {
        const float *xg = x + g * gs;
        int len = n - g * gs < gs ? n - g * gs : gs;
        if (len < gs) {
            memset(xq + g * gs + len, 0, (size_t)(gs - len));
        }
        if (quantize_group_finite(xq + g * gs, xs + g, xg, len)) {
            continue;
        }
        float amax = 0.0f;
        for (int j = 0; j < len; j++) {
            float a = fabsf(xg[j]);
            if (a > amax) {
                amax = a;
            }
        }
        float scale = amax / 127.0f;
        xs[g] = scale;
        if (amax == 0.0f) {
            // Dividing by a zero scale would give NaN codes.
            memset(xq + g * gs, 0, (size_t)len);
            continue;
        }
        if (amax > 3.4028235e38f) {
            for (int j = 0; j < len; j++) {
                xq[g * gs + j] = (int8_t)(xg[j] == amax ? 127 : (xg[j] == -amax ? -127 : 0));
            }
            continue;
        }
        float pre = amax < 0x1p-60f ? 0x1p64f : 1.0f;
        float inv = 127.0f / (amax * pre);
        for (int j = 0; j < len; j++) {
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
    __builtin_memcpy(&f, &bits, sizeof(f));
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

// Lane i of the result: the sum of the four lanes of argument i.
static inline __m128i hsum4(__m128i a, __m128i b, __m128i c, __m128i d) {
    __m128i ab = _mm_add_epi32(_mm_unpacklo_epi32(a, b), _mm_unpackhi_epi32(a, b));
    __m128i cd = _mm_add_epi32(_mm_unpacklo_epi32(c, d), _mm_unpackhi_epi32(c, d));
    return _mm_add_epi32(_mm_unpacklo_epi64(ab, cd), _mm_unpackhi_epi64(ab, cd));
}

// Four half scales (h0 in lane 0) as floats, exactly as llm_f16_to_f32:
// normal halves by rebiasing the exponent, anything else one at a time.
static inline __m128 halves4(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3) {
    __m128i h = _mm_set_epi32(h3, h2, h1, h0);
    __m128i rest = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
    __m128i normal = _mm_and_si128(_mm_cmpgt_epi32(rest, _mm_set1_epi32(0x03ff)),
        _mm_cmplt_epi32(rest, _mm_set1_epi32(0x7c00)));
    if (_mm_movemask_epi8(normal) != 0xffff) {
        return _mm_set_ps(llm_f16_to_f32(h3), llm_f16_to_f32(h2), llm_f16_to_f32(h1), llm_f16_to_f32(h0));
    }
    __m128i sign = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16);
    __m128i bits = _mm_add_epi32(_mm_slli_epi32(rest, 13), _mm_set1_epi32((127 - 15) << 23));
    return _mm_castsi128_ps(_mm_or_si128(sign, bits));
}

// Rows r[0..3] (each n int8, groups of gs) times the widened x: per row
// and group the same integer dot product and the same float operations,
// in the same order, as the one-row loop of llm_matmul_q8, four rows per
// SSE lane.
static void matmul_q8_rows4(float *out, const int16_t *xw, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int gs) {
    int groups = n / gs;
    const int8_t *r0 = w, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
    __m128 sum = _mm_setzero_ps();
    for (int g = 0; g < groups; g++) {
        int j = g * gs, end = j + gs;
        __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
        for (; j + 16 <= end; j += 16) {
            __m128i xl = _mm_loadu_si128((const __m128i *)(xw + j));
            __m128i xh = _mm_loadu_si128((const __m128i *)(xw + j + 8));
            __m128i v0 = _mm_loadu_si128((const __m128i *)(r0 + j));
            __m128i v1 = _mm_loadu_si128((const __m128i *)(r1 + j));
            __m128i v2 = _mm_loadu_si128((const __m128i *)(r2 + j));
            __m128i v3 = _mm_loadu_si128((const __m128i *)(r3 + j));
            a0 = _mm_add_epi32(a0, _mm_add_epi32(_mm_madd_epi16(widen_lo(v0), xl), _mm_madd_epi16(widen_hi(v0), xh)));
            a1 = _mm_add_epi32(a1, _mm_add_epi32(_mm_madd_epi16(widen_lo(v1), xl), _mm_madd_epi16(widen_hi(v1), xh)));
            a2 = _mm_add_epi32(a2, _mm_add_epi32(_mm_madd_epi16(widen_lo(v2), xl), _mm_madd_epi16(widen_hi(v2), xh)));
            a3 = _mm_add_epi32(a3, _mm_add_epi32(_mm_madd_epi16(widen_lo(v3), xl), _mm_madd_epi16(widen_hi(v3), xh)));
        }
        if (j + 8 <= end) {
            __m128i xl = _mm_loadu_si128((const __m128i *)(xw + j));
            a0 = _mm_add_epi32(a0, _mm_madd_epi16(widen_lo(_mm_loadl_epi64((const __m128i *)(r0 + j))), xl));
            a1 = _mm_add_epi32(a1, _mm_madd_epi16(widen_lo(_mm_loadl_epi64((const __m128i *)(r1 + j))), xl));
            a2 = _mm_add_epi32(a2, _mm_madd_epi16(widen_lo(_mm_loadl_epi64((const __m128i *)(r2 + j))), xl));
            a3 = _mm_add_epi32(a3, _mm_madd_epi16(widen_lo(_mm_loadl_epi64((const __m128i *)(r3 + j))), xl));
            j += 8;
        }
        __m128i dots = hsum4(a0, a1, a2, a3);
        if (j < end) {
            int32_t t[4];
            _mm_storeu_si128((__m128i *)t, dots);
            for (; j < end; j++) {
                t[0] += (int32_t)r0[j] * xw[j];
                t[1] += (int32_t)r1[j] * xw[j];
                t[2] += (int32_t)r2[j] * xw[j];
                t[3] += (int32_t)r3[j] * xw[j];
            }
            dots = _mm_loadu_si128((const __m128i *)t);
        }
        __m128 scale = halves4(ws[g], ws[groups + g], ws[2 * groups + g], ws[3 * groups + g]);
        // sum += ((float)dot * w_scale) * x_scale, lane by lane.
        sum = _mm_add_ps(sum, _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(dots), scale), _mm_set1_ps(xs[g])));
    }
    _mm_storeu_ps(out, sum);
}
#endif

#if defined(LLM_ESPNN)
#include "matmul_q8_esp32s3.h"
#endif

void llm_matmul_q8(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs) {
    #if defined(LLM_ESPNN)
    if (gs % 16 == 0 && (((uintptr_t)xq | (uintptr_t)w) & 15) == 0) {
        llm_matmul_q8_esp32s3(out, xq, xs, w, ws, n, d, gs);
        return;
    }
    #endif
    int groups = n / gs;
    #if defined(__SSE2__)
    int16_t xw[LLM_WIDE_X_MAX];
    int wide = n <= LLM_WIDE_X_MAX;
    for (int j = 0; wide && j < n; j++) {
        xw[j] = xq[j];
    }
    int i = 0;
    for (; wide && i + 4 <= d; i += 4) {
        matmul_q8_rows4(out + i, xw, xs, w + (intptr_t)i * n, ws + (intptr_t)i * groups, n, gs);
    }
    #else
    int i = 0;
    #endif
    for (; i < d; i++) {
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
    #if defined(LLM_X8)
    // The same expf, inlined (kernels_xtensa.h).
    llm_div_all(x, n, llm_exp_sub_sum(x, n, max_val));
    return;
    #endif
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max_val);
        sum += x[i];
    }
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

// The portable RoPE table: basic IEEE operations only, which every target
// (x86 SSE, soft-float Cortex-M, the S3's FPU) rounds alike, so the table is
// the same bits everywhere.  libm's powf, sinf and cosf differ by an ulp
// between C libraries, and int8 quantisation of q and k can turn one ulp
// into a different code, and so a different token, on another target.

// e**x for -700 < x < 700, in double (once per model): 2**n * e**r with
// |r| <= ln2 / 2, Taylor to r**17 (relative error below 1e-17).
static double exp_portable(double x) {
    const double ln2_hi = 6.93147180369123816490e-01;  // 32 bits: n * ln2_hi is exact
    const double ln2_lo = 1.90821492927058770002e-10;
    double nf = x * 1.44269504088896338700 + 6755399441055744.0 - 6755399441055744.0;
    double r = (x - nf * ln2_hi) - nf * ln2_lo;
    double term = 1.0, sum = 1.0;
    for (int i = 1; i <= 17; i++) {
        term *= r / i;
        sum += term;
    }
    for (int n = (int)nf; n > 0; n--) {
        sum *= 2.0;
    }
    for (int n = (int)nf; n < 0; n++) {
        sum *= 0.5;
    }
    return sum;
}

void llm_rope_freqs_portable(float *freq, int head_size) {
    const double ln_10000 = 9.21034037197618273607;
    for (int k = 0; k < head_size / 2; k++) {
        // As llama2.c: the float exponent, then 1 / 10000**e in float.
        float power = (float)(2 * k) / (float)head_size;
        freq[k] = 1.0f / (float)exp_portable(ln_10000 * (double)power);
    }
}

void llm_rope_table_portable(float *fcos, float *fsin, const float *freq, int head_size, int pos) {
    // pi/2 in three parts (Cody and Waite): 8, 12 and 24 bits, so that
    // k * part is exact for k < 2**12, i.e. angles up to about 6000.
    const float pio2_1 = 1.5703125f, pio2_2 = 4.838705062866211e-4f, pio2_3 = -4.371138828673793e-8f;
    for (int k = 0; k < head_size / 2; k++) {
        float val = (float)pos * freq[k];
        // Adding 1.5 * 2**23 rounds to the nearest integer.
        float kf = val * 0.636619772f + 12582912.0f - 12582912.0f;
        float r = ((val - kf * pio2_1) - kf * pio2_2) - kf * pio2_3;
        // Taylor series on |r| <= pi/4: truncation below 3e-9, under half an ulp.
        float r2 = r * r;
        float sr = r + r * r2 * (-1.0f / 6.0f + r2 * (1.0f / 120.0f + r2 * (-1.0f / 5040.0f
            + r2 * (1.0f / 362880.0f))));
        float cr = 1.0f + r2 * (-0.5f + r2 * (1.0f / 24.0f + r2 * (-1.0f / 720.0f
            + r2 * (1.0f / 40320.0f + r2 * (-1.0f / 3628800.0f)))));
        switch ((int)kf & 3) {
            case 0: fcos[k] = cr; fsin[k] = sr; break;
            case 1: fcos[k] = -sr; fsin[k] = cr; break;
            case 2: fcos[k] = -cr; fsin[k] = -sr; break;
            default: fcos[k] = sr; fsin[k] = -cr; break;
        }
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
