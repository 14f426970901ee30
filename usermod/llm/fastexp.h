// The fast exponentials of the int8 paths (which are not llama2.c's
// arithmetic anyway: transformer.c's exact_path()), inline for the kernels
// that call them in their inner loops: activations_fast.c and the
// attention files.  Only basic IEEE operations in a fixed order, no libm:
// the same bits on every target.
#ifndef LLM_FASTEXP_H
#define LLM_FASTEXP_H

#include <stdint.h>
#include "target.h"

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
    uint32_t sb = (llm_fbits(t) + bias) << 23;
    return p * llm_bitsf(sb);
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
    uint32_t sb = (llm_fbits(t) + bias) << 23;
    return p * llm_bitsf(sb);
}

static inline float exp_fast_le88(float x) {
    return exp_fast_k(x, 1.0f, 127u - 0x4b400000u);
}

// x, which the compiler then cannot rematerialise: GCC for Xtensa reloads
// float constants from literal pools inside loops (two instructions each)
// rather than keep them in registers.
#if LLM_S3
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

#endif
