#include <string.h>
#include "kernels.h"
#include "matmul_q4.h"

// One group's exact integer dot product: codes are nibble - 8.  Two
// accumulators so that an in-order MCU core overlaps the multiplies.
static inline int32_t dot_q4(const uint8_t *w, const int8_t *x, int bytes) {
    int32_t d0 = 0, d1 = 0;
    for (int k = 0; k < bytes; k++) {
        uint32_t b = w[k];
        d0 += ((int32_t)(b & 15u) - 8) * (int32_t)x[2 * k];
        d1 += ((int32_t)(b >> 4) - 8) * (int32_t)x[2 * k + 1];
    }
    return d0 + d1;
}

#if defined(__SSE2__)
#include <emmintrin.h>
// SSE2 (x86-64 hosts): x's codes split once per matmul into even and odd
// columns, widened to int16, so that a byte's low nibbles meet the even
// columns and its high nibbles the odd ones in pmaddwd, 16 codes per step.
#define LLM_Q4_WIDE_MAX (8192)

static int32_t dot_q4_wide(const uint8_t *w, const int16_t *xe, const int16_t *xo, int bytes) {
    const __m128i low = _mm_set1_epi8(15), eight = _mm_set1_epi16(8), zero = _mm_setzero_si128();
    __m128i acc = zero;
    int k = 0;
    for (; k + 16 <= bytes; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(w + k));
        __m128i lo = _mm_and_si128(v, low), hi = _mm_and_si128(_mm_srli_epi16(v, 4), low);
        __m128i lo0 = _mm_sub_epi16(_mm_unpacklo_epi8(lo, zero), eight);
        __m128i lo1 = _mm_sub_epi16(_mm_unpackhi_epi8(lo, zero), eight);
        __m128i hi0 = _mm_sub_epi16(_mm_unpacklo_epi8(hi, zero), eight);
        __m128i hi1 = _mm_sub_epi16(_mm_unpackhi_epi8(hi, zero), eight);
        acc = _mm_add_epi32(acc, _mm_madd_epi16(lo0, _mm_loadu_si128((const __m128i *)(xe + k))));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(lo1, _mm_loadu_si128((const __m128i *)(xe + k + 8))));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(hi0, _mm_loadu_si128((const __m128i *)(xo + k))));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(hi1, _mm_loadu_si128((const __m128i *)(xo + k + 8))));
    }
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4e));
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0xb1));
    int32_t dot = _mm_cvtsi128_si32(acc);
    for (; k < bytes; k++) {
        uint32_t b = w[k];
        dot += ((int32_t)(b & 15u) - 8) * xe[k] + ((int32_t)(b >> 4) - 8) * xo[k];
    }
    return dot;
}
#endif

void llm_matmul_q4(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs) {
    int groups = n / gs, gb = gs / 2, rb = n / 2;
    #if defined(__SSE2__)
    if (n <= 2 * LLM_Q4_WIDE_MAX) {
        int16_t xe[LLM_Q4_WIDE_MAX], xo[LLM_Q4_WIDE_MAX];
        for (int k = 0; k < rb; k++) {
            xe[k] = xq[2 * k];
            xo[k] = xq[2 * k + 1];
        }
        for (int i = 0; i < d; i++) {
            const uint8_t *row = w + (intptr_t)i * rb;
            const uint16_t *rs = ws + (intptr_t)i * groups;
            float sum = 0.0f;
            for (int g = 0; g < groups; g++) {
                int32_t dot = dot_q4_wide(row + g * gb, xe + g * gb, xo + g * gb, gb);
                sum += (float)dot * llm_f16_to_f32(rs[g]) * xs[g];
            }
            out[i] = sum;
        }
        return;
    }
    #endif
    for (int i = 0; i < d; i++) {
        const uint8_t *row = w + (intptr_t)i * rb;
        const uint16_t *rs = ws + (intptr_t)i * groups;
        float sum = 0.0f;
        for (int g = 0; g < groups; g++) {
            int32_t dot = dot_q4(row + g * gb, xq + g * gs, gb);
            sum += (float)dot * llm_f16_to_f32(rs[g]) * xs[g];
        }
        out[i] = sum;
    }
}

void llm_dequantize_q4_row(float *out, const uint8_t *w, const uint16_t *ws, int n, int gs, int row, int cols) {
    const uint8_t *r = w + (intptr_t)row * (n / 2);
    const uint16_t *rs = ws + (intptr_t)row * (n / gs);
    for (int j = 0; j < cols; j++) {
        uint32_t b = r[j / 2];
        int32_t q = (int32_t)((j & 1) ? b >> 4 : b & 15u) - 8;
        out[j] = (float)q * llm_f16_to_f32(rs[j / gs]);
    }
}
