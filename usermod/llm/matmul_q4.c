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

#if defined(__XTENSA__) && defined(LLM_XTENSA_LX7)
// ESP32-S3: the SIMD (PIE) has no nibble or shift instructions that the
// emulated core runs (only ee.zero.accx, ee.vld.128.ip, ee.vmulas.s8.accx,
// rur.accx_0), so a group's codes are split into low and high nibbles by
// 32-bit word (one load, two masks, one shift, two stores per 8 codes) into
// aligned buffers, and x is split once per matmul into its even and odd
// columns to meet them: the low nibbles (even columns) and the high ones
// (odd columns) each make one 16-lane multiply-add per 16 bytes.  The
// nibbles go in unsigned (0..15), so the group's dot is the accumulator
// minus 8 * (sum of x's codes in the group), computed once per matmul.
#define LLM_Q4_PIE (1)
// x's even and odd halves and one group's split nibbles live on the stack,
// which is 4 KB for the second core's worker (parallel_freertos.c): rows up
// to this many columns, groups up to LLM_Q4_PIE_GROUP.
#define LLM_Q4_PIE_MAX (1024)
#define LLM_Q4_PIE_GROUP (128)

static inline float half_to_float_q4(uint16_t h) {
    // As llm_f16_to_f32 for the normal halves a converter writes, inline
    // (matmul_q8_esp32s3.c has the same reason: a call spills the loop).
    uint32_t rest = h & 0x7fffu;
    if (__builtin_expect(rest - 0x0400u < 0x7800u, 1)) {
        uint32_t u = ((uint32_t)(h & 0x8000u) << 16) | ((rest << 13) + ((uint32_t)(127 - 15) << 23));
        float f;
        memcpy(&f, &u, sizeof(f));
        return f;
    }
    return llm_f16_to_f32(h);
}

// Sum over chunks * 16 bytes of lo[k] * xe[k] + hi[k] * xo[k]; all 16-byte aligned.
static inline int32_t pie_dot_q4(const int8_t *lo, const int8_t *xe, const int8_t *hi, const int8_t *xo,
    int chunks) {
    int32_t r;
    __asm__ volatile (
        "ee.zero.accx\n"
        "loopnez %[n], .Lq4_dot_end%=\n"
        "ee.vld.128.ip q0, %[lo], 16\n"
        "ee.vld.128.ip q1, %[xe], 16\n"
        "ee.vld.128.ip q2, %[hi], 16\n"
        "ee.vld.128.ip q3, %[xo], 16\n"
        "ee.vmulas.s8.accx q0, q1\n"
        "ee.vmulas.s8.accx q2, q3\n"
        ".Lq4_dot_end%=:\n"
        "rur.accx_0 %[r]\n"
        : [r] "=r" (r), [lo] "+r" (lo), [xe] "+r" (xe), [hi] "+r" (hi), [xo] "+r" (xo)
        : [n] "r" (chunks)
        : "memory");  // reads the buffers the C code just wrote
    return r;
}

static void matmul_q4_pie(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs) {
    int groups = n / gs, gb = gs / 2, rb = n / 2;
    int8_t xe[LLM_Q4_PIE_MAX / 2] __attribute__((aligned(16)));
    int8_t xo[LLM_Q4_PIE_MAX / 2] __attribute__((aligned(16)));
    int32_t xsum8[LLM_Q4_PIE_MAX / 32];
    for (int g = 0; g < groups; g++) {
        int32_t s = 0;
        for (int k = g * gb; k < (g + 1) * gb; k++) {
            xe[k] = xq[2 * k];
            xo[k] = xq[2 * k + 1];
            s += xq[2 * k] + xq[2 * k + 1];
        }
        xsum8[g] = 8 * s;
    }
    uint32_t lo[LLM_Q4_PIE_GROUP / 8] __attribute__((aligned(16)));
    uint32_t hi[LLM_Q4_PIE_GROUP / 8] __attribute__((aligned(16)));
    int words = gb / 4, chunks = gb / 16;
    for (int i = 0; i < d; i++) {
        const uint32_t *row = (const uint32_t *)(w + (intptr_t)i * rb);
        const uint16_t *rs = ws + (intptr_t)i * groups;
        float sum = 0.0f;
        for (int g = 0; g < groups; g++) {
            for (int k = 0; k < words; k++) {
                uint32_t u = row[k];
                lo[k] = u & 0x0f0f0f0fu;
                hi[k] = (u >> 4) & 0x0f0f0f0fu;
            }
            row += words;
            int32_t dot = pie_dot_q4((const int8_t *)lo, xe + g * gb, (const int8_t *)hi, xo + g * gb, chunks)
                - xsum8[g];
            sum += (float)dot * half_to_float_q4(rs[g]) * xs[g];
        }
        out[i] = sum;
    }
}
#else
#define LLM_Q4_PIE (0)
#endif

void llm_matmul_q4(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs) {
    int groups = n / gs, gb = gs / 2, rb = n / 2;
    #if LLM_Q4_PIE
    if (gs % 32 == 0 && gs <= LLM_Q4_PIE_GROUP && n <= LLM_Q4_PIE_MAX && ((uintptr_t)w & 15) == 0) {
        matmul_q4_pie(out, xq, xs, w, ws, n, d, gs);
        return;
    }
    #endif
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
