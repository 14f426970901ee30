// The int8 matmul's SSE2 version (x86-64 hosts): matmul_q8.h.  Empty
// elsewhere.
#include "matmul_q8.h"
#include "quant.h"

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
// Lane i of the result: the sum of the four lanes of argument i.
static inline __m128i hsum4(__m128i a, __m128i b, __m128i c, __m128i d) {
    __m128i ab = _mm_add_epi32(_mm_unpacklo_epi32(a, b), _mm_unpackhi_epi32(a, b));
    __m128i cd = _mm_add_epi32(_mm_unpacklo_epi32(c, d), _mm_unpackhi_epi32(c, d));
    return _mm_add_epi32(_mm_unpacklo_epi64(ab, cd), _mm_unpackhi_epi64(ab, cd));
}

// Four half scales (h0 in lane 0) as floats, llm_half_to_float four at a time:
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
    __m128i bits = _mm_add_epi32(_mm_slli_epi32(rest, 13), _mm_set1_epi32((int32_t)LLM_HALF_REBIAS));
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

// Rows in fours; the rows left (d % 4, or all of them when x is too long
// to widen on the stack) to the portable code.
int llm_matmul_q8_simd(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs) {
    if (n > LLM_WIDE_X_MAX) {
        return 0;
    }
    int16_t xw[LLM_WIDE_X_MAX];
    for (int j = 0; j < n; j++) {
        xw[j] = xq[j];
    }
    int groups = n / gs, i = 0;
    for (; i + 4 <= d; i += 4) {
        matmul_q8_rows4(out + i, xw, xs, w + (intptr_t)i * n, ws + (intptr_t)i * groups, n, gs);
    }
    return i;
}

#endif
