#include <string.h>
#include "matmul_q4.h"
#include "quant.h"
#include "target.h"

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

#if LLM_S3
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
// x's even and odd halves live on the stack, which is 4 KB for the second
// core's worker (parallel_freertos.c): rows up to this many columns.
#define LLM_Q4_PIE_MAX (1024)

// One row's group dot products, groups * chunks * 32 codes: each chunk's 16
// packed bytes are split by 32-bit word into low nibbles (buf[0..15]) and
// high nibbles (buf[16..31]), then multiplied with x's even and odd columns
// on the SIMD; dots[g] gets the sum of nibble * x of group g (nibbles
// unsigned, 0..15).  Two words at a time so that no shift waits on its load.
static inline void pie_dots_q4(int32_t *dots, const uint8_t *w, const int8_t *xe, const int8_t *xo, int8_t *buf,
    int groups, int chunks) {
    uint32_t t0, t1, t2, t3;
    __asm__ volatile (
        ".Lq4_group%=:\n"
        "ee.zero.accx\n"
        "loopnez %[n], .Lq4_end%=\n"
        "l32i %[t0], %[w], 0\n"
        "l32i %[t2], %[w], 4\n"
        "srli %[t1], %[t0], 4\n"
        "srli %[t3], %[t2], 4\n"
        "and %[t0], %[t0], %[m]\n"
        "and %[t1], %[t1], %[m]\n"
        "and %[t2], %[t2], %[m]\n"
        "and %[t3], %[t3], %[m]\n"
        "s32i %[t0], %[b], 0\n"
        "s32i %[t1], %[b], 16\n"
        "s32i %[t2], %[b], 4\n"
        "s32i %[t3], %[b], 20\n"
        "l32i %[t0], %[w], 8\n"
        "l32i %[t2], %[w], 12\n"
        "srli %[t1], %[t0], 4\n"
        "srli %[t3], %[t2], 4\n"
        "and %[t0], %[t0], %[m]\n"
        "and %[t1], %[t1], %[m]\n"
        "and %[t2], %[t2], %[m]\n"
        "and %[t3], %[t3], %[m]\n"
        "s32i %[t0], %[b], 8\n"
        "s32i %[t1], %[b], 24\n"
        "s32i %[t2], %[b], 12\n"
        "s32i %[t3], %[b], 28\n"
        "addi %[w], %[w], 16\n"
        "ee.vld.128.ip q0, %[b], 16\n"
        "ee.vld.128.ip q2, %[b], -16\n"
        "ee.vld.128.ip q1, %[xe], 16\n"
        "ee.vld.128.ip q3, %[xo], 16\n"
        "ee.vmulas.s8.accx q0, q1\n"
        "ee.vmulas.s8.accx q2, q3\n"
        ".Lq4_end%=:\n"
        "rur.accx_0 %[t0]\n"
        "s32i %[t0], %[d], 0\n"
        "addi %[d], %[d], 4\n"
        "addi %[g], %[g], -1\n"
        "bnez %[g], .Lq4_group%=\n"
        : [w] "+r" (w), [xe] "+r" (xe), [xo] "+r" (xo), [d] "+r" (dots), [g] "+r" (groups),
          [t0] "=&r" (t0), [t1] "=&r" (t1), [t2] "=&r" (t2), [t3] "=&r" (t3)
        : [n] "r" (chunks), [m] "r" (0x0f0f0f0fu), [b] "r" (buf)
        : "memory");
}

// The rows, apart from the x buffers: a small stack frame keeps the loop's
// values in registers (offsets past 1 KB of a big frame cost two extra
// instructions per spill).  Any scales: llm_half_to_float in C.
static void __attribute__((noinline)) rows_q4_pie(float *out, const int8_t *xe, const int8_t *xo,
    const int32_t *xsum8, const float *xs, const uint8_t *w, const uint16_t *ws, int d, int groups, int gb) {
    int8_t buf[32] __attribute__((aligned(16)));
    int32_t dots[LLM_Q4_PIE_MAX / 32];
    int chunks = gb / 16;
    for (int i = 0; i < d; i++) {
        pie_dots_q4(dots, w, xe, xo, buf, groups, chunks);
        w += (intptr_t)groups * gb;
        float sum = 0.0f;
        for (int g = 0; g < groups; g++) {
            sum += (float)(dots[g] - xsum8[g]) * llm_half_to_float(ws[g]) * xs[g];
        }
        ws += groups;
        out[i] = sum;
    }
}

// Per group of x: minus 8 x (the sum of its codes), the accumulator's
// start, and its scale, side by side so that one pointer walks both.
typedef struct {
    int32_t neg_xsum8;
    float xs;
} q4_xgroup_t;

// Rows of 32-code groups whose scales are all +0 or positive normal halves
// (llm_q4_scales_plain): one asm loop per row does the whole row, integer
// dot and float scaling, without a store of the dots.  Per group:
// - ACCX's low word starts at -8 * sum(x) (wur.accx_0), and only the low
//   word is read, so the result is the exact int32 dot of the signed codes.
//   ACCX's top byte is left as the group before left it: each group's carry
//   or borrow out of the low word moves it by at most 1, so it is zeroed per
//   row (ee.zero.accx): at most 32 groups a row keep ACCX within +-33 * 2^32,
//   far from its 40-bit saturation.  (Zeroed once per matmul it drifted into
//   saturation after a few hundred groups: the harness's 512-row case.)
// - 16 bytes split by word into low and high nibbles (as pie_dots_q4), two
//   ee.vmulas.s8.accx with x's even and odd columns, the second one loading
//   x's odd columns as it goes;
// - the scale by rebiasing the half's exponent: bits = (h << 13) + (112 << 23),
//   exactly llm_half_to_float for a positive normal h, and moveqz makes h = 0
//   into +0.0f as llm_half_to_float does (no sign bit: the flag's promise);
// - sum += ((float)dot * w_scale) * x_scale in the FPU, in C's order, with
//   no fused multiply-add, so the bits are the C loop's.
// One group of rows_q4_pie32 at byte offset WO of w, SO of ws and XO of
// the x groups (whose pointers the caller advances).
#define Q4_SPLIT_WORDS(WO, BO) \
    "l32i %[t0], %[w], " #WO "+" #BO "\n" \
    "l32i %[t2], %[w], " #WO "+" #BO "+4\n" \
    "srli %[t1], %[t0], 4\n" \
    "srli %[t3], %[t2], 4\n" \
    "and %[t0], %[t0], %[m]\n" \
    "and %[t1], %[t1], %[m]\n" \
    "and %[t2], %[t2], %[m]\n" \
    "and %[t3], %[t3], %[m]\n" \
    "s32i %[t0], %[b], " #BO "\n" \
    "s32i %[t1], %[b], " #BO "+16\n" \
    "s32i %[t2], %[b], " #BO "+4\n" \
    "s32i %[t3], %[b], " #BO "+20\n"
#define Q4_GROUP(WO, SO, XO) \
    "l32i %[t0], %[px], " #XO "\n" \
    "wur.accx_0 %[t0]\n" \
    Q4_SPLIT_WORDS(WO, 0) \
    Q4_SPLIT_WORDS(WO, 8) \
    "ee.vld.128.ip q0, %[b], 16\n" \
    "ee.vmulas.s8.accx.ld.ip q2, %[b], -16, q0, q1\n" \
    "ee.vld.128.ip q3, %[xo], 16\n" \
    "ee.vmulas.s8.accx.ld.ip q1, %[xe], 16, q2, q3\n" \
    "rur.accx_0 %[t0]\n" \
    "l16ui %[t1], %[ws], " #SO "\n" \
    "float.s %[f0], %[t0], 0\n" \
    "slli %[t2], %[t1], 13\n" \
    "add %[t2], %[t2], %[rb]\n" \
    "moveqz %[t2], %[t1], %[t1]\n" \
    "wfr %[f1], %[t2]\n" \
    "lsi %[f2], %[px], " #XO "+4\n" \
    "mul.s %[f0], %[f0], %[f1]\n" \
    "mul.s %[f0], %[f0], %[f2]\n" \
    "add.s %[sum], %[sum], %[f0]\n"

static void __attribute__((noinline)) rows_q4_pie32(float *out, const int8_t *xe, const int8_t *xo,
    const q4_xgroup_t *xg, const uint8_t *w, const uint16_t *ws, int d, int groups) {
    int8_t buf[32] __attribute__((aligned(16)));
    for (int i = 0; i < d; i++) {
        const int8_t *pe = xe, *po = xo;
        int8_t *pb = buf;
        const q4_xgroup_t *px = xg;
        uint32_t t0, t1, t2, t3;
        float sum, f0, f1, f2;
        // Two groups per loop trip (one pointer step each for w, ws and
        // the x groups), then the odd one.  q1 holds the group's even
        // columns of x, loaded ahead by the last multiply of the group
        // before (xe has 16 bytes of slack for the row's last).
        __asm__ volatile (
            "ee.zero.accx\n"
            "movi.n %[t0], 0\n"
            "wfr %[sum], %[t0]\n"
            "ee.vld.128.ip q1, %[xe], 16\n"
            "srli %[t0], %[n], 1\n"
            "loopnez %[t0], .Lq4p_end%=\n"
            Q4_GROUP(0, 0, 0)
            Q4_GROUP(16, 2, 8)
            "addi %[w], %[w], 32\n"
            "addi %[ws], %[ws], 4\n"
            "addi %[px], %[px], 16\n"
            ".Lq4p_end%=:\n"
            "bbci %[n], 0, .Lq4p_even%=\n"
            Q4_GROUP(0, 0, 0)
            "addi %[w], %[w], 16\n"
            "addi %[ws], %[ws], 2\n"
            ".Lq4p_even%=:\n"
            : [w] "+r" (w), [xe] "+r" (pe), [xo] "+r" (po), [px] "+r" (px), [ws] "+r" (ws), [b] "+r" (pb),
              [t0] "=&r" (t0), [t1] "=&r" (t1), [t2] "=&r" (t2), [t3] "=&r" (t3),
              [sum] "=&f" (sum), [f0] "=&f" (f0), [f1] "=&f" (f1), [f2] "=&f" (f2)
            : [n] "r" (groups), [m] "r" (0x0f0f0f0fu), [rb] "r" (LLM_HALF_REBIAS)
            : "memory");
        out[i] = sum;
    }
}
#undef Q4_GROUP
#undef Q4_SPLIT_WORDS

static void matmul_q4_pie(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs, int plain) {
    int groups = n / gs, gb = gs / 2;
    // xe: 16 bytes of slack that rows_q4_pie32's last load ahead reads.
    int8_t xe[LLM_Q4_PIE_MAX / 2 + 16] __attribute__((aligned(16)));
    int8_t xo[LLM_Q4_PIE_MAX / 2] __attribute__((aligned(16)));
    union {
        int32_t xsum8[LLM_Q4_PIE_MAX / 32];
        q4_xgroup_t xg[LLM_Q4_PIE_MAX / 32];
    } u;
    for (int g = 0; g < groups; g++) {
        int32_t s = 0;
        for (int k = g * gb; k < (g + 1) * gb; k++) {
            xe[k] = xq[2 * k];
            xo[k] = xq[2 * k + 1];
            s += xq[2 * k] + xq[2 * k + 1];
        }
        if (plain && gs == 32) {
            u.xg[g].neg_xsum8 = -8 * s;
            u.xg[g].xs = xs[g];
        } else {
            u.xsum8[g] = 8 * s;
        }
    }
    if (plain && gs == 32) {
        rows_q4_pie32(out, xe, xo, u.xg, w, ws, d, groups);
    } else {
        rows_q4_pie(out, xe, xo, u.xsum8, xs, w, ws, d, groups, gb);
    }
}
#else
#define LLM_Q4_PIE (0)
#endif

int llm_q4_scales_plain(const uint16_t *ws, size_t count) {
    // Plain: 0 or 0x0400..0x7bff.  (h - 1) < 0x03ff is a subnormal;
    // h >= 0x7c00 is Inf, NaN or a sign bit (-0 included).
    uint32_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t h = ws[i];
        bad |= (uint32_t)(h - 1u < 0x03ffu) | (uint32_t)(h >= 0x7c00u);
    }
    return bad == 0;
}

void llm_matmul_q4(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs) {
    int plain = 0;
    #if LLM_Q4_PIE
    plain = llm_q4_scales_plain(ws, (size_t)d * (size_t)(n / gs));
    #endif
    llm_matmul_q4_scaled(out, xq, xs, w, ws, n, d, gs, plain);
}

void llm_matmul_q4_scaled(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs, int plain) {
    int groups = n / gs, gb = gs / 2, rb = n / 2;
    (void)plain;
    #if LLM_Q4_PIE
    if (gs % 32 == 0 && n <= LLM_Q4_PIE_MAX && ((uintptr_t)w & 15) == 0) {
        matmul_q4_pie(out, xq, xs, w, ws, n, d, gs, plain);
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
