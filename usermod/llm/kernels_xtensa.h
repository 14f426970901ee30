// ESP32-S3 (Xtensa LX7) inner loops of the fp32 kernels, included by
// kernels.c when LLM_XTENSA_LX7 is defined (the build files define it for
// the S3 only: the ESP32's LX6 has no post-increment float loads).
//
// Why assembly: GCC 12 never emits the post-increment load lsip and, with
// eight accumulators, spills float registers to the stack; its four-row
// matmul takes 19 instructions per 4 multiply-adds.  These loops keep every
// accumulator in a register, step every pointer with lsip and run in a
// zero-overhead loop (loopnez), for 25 instructions per 8 multiply-adds.
//
// Exactness: every sum is the C code's, term by term in index order, one
// mul.s (rounded) then one add.s (rounded) per term, never the fused madd.s.
// tests/test_s3_kernels.py checks them on the emulated core against the host
// build and against naive loops in llama2.c's order.
//
// Float registers are named and clobbered rather than passed as operands:
// GCC allows at most 30 operands per asm, fewer than eight sums, their
// temporaries and the pointers.  const.s f, 0 sets +0.0f, as C's 0.0f.
#ifndef LLM_KERNELS_XTENSA_H
#define LLM_KERNELS_XTENSA_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__XTENSA__)
// a / b, bit for bit as libgcc's __divsf3 on the S3, which is this sequence
// of the FPU's division steps (div0.s, nexp01.s, maddn.s ..., divn.s), but
// inline: without the call, whose clobbers make GCC spill every live float.
// As in libgcc, b's register is reused once b is copied (t7).
static inline float llm_div_s3(float a, float b) {
    float q, t3, t4, t5, t6, t7, t8;
    __asm__ (
        "div0.s %[t3], %[b]\n"
        "nexp01.s %[t4], %[b]\n"
        "const.s %[t5], 1\n"
        "maddn.s %[t5], %[t4], %[t3]\n"
        "mov.s %[t6], %[t3]\n"
        "mov.s %[t7], %[b]\n"
        "nexp01.s %[b], %[a]\n"
        "maddn.s %[t6], %[t5], %[t6]\n"
        "const.s %[t5], 1\n"
        "const.s %[q], 0\n"
        "neg.s %[t8], %[b]\n"
        "maddn.s %[t5], %[t4], %[t6]\n"
        "maddn.s %[q], %[t8], %[t3]\n"
        "mkdadj.s %[t7], %[a]\n"
        "maddn.s %[t6], %[t5], %[t6]\n"
        "maddn.s %[t8], %[t4], %[q]\n"
        "const.s %[t3], 1\n"
        "maddn.s %[t3], %[t4], %[t6]\n"
        "maddn.s %[q], %[t8], %[t6]\n"
        "neg.s %[b], %[b]\n"
        "maddn.s %[t6], %[t3], %[t6]\n"
        "maddn.s %[b], %[t4], %[q]\n"
        "addexpm.s %[q], %[t7]\n"
        "addexp.s %[t6], %[t7]\n"
        "divn.s %[q], %[b], %[t6]\n"
        : [q] "=&f" (q), [t3] "=&f" (t3), [t4] "=&f" (t4), [t5] "=&f" (t5),
          [t6] "=&f" (t6), [t7] "=&f" (t7), [t8] "=&f" (t8), [b] "+f" (b)
        : [a] "f" (a));
    return q;
}
#define LLM_DIV(a, b) llm_div_s3((a), (b))
// A float's bits and back, register to register (GCC goes through the stack).
static inline uint32_t llm_fbits(float f) {
    uint32_t u;
    __asm__ ("rfr %0, %1" : "=r" (u) : "f" (f));
    return u;
}
static inline float llm_bitsf(uint32_t u) {
    float f;
    __asm__ ("wfr %0, %1" : "=f" (f) : "r" (u));
    return f;
}
#else
#define LLM_DIV(a, b) ((a) / (b))
static inline uint32_t llm_fbits(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, sizeof(u));
    return u;
}
static inline float llm_bitsf(uint32_t u) {
    float f;
    __builtin_memcpy(&f, &u, sizeof(f));
    return f;
}
#endif

// expf(x) for the softmax's x <= 0, bit for bit as the expf these builds
// link (MicroPython's lib/libm, from musl 0.9.15 and FreeBSD's e_expf.c),
// without its call, its checks for positive and huge arguments, and the call
// to scalbnf: the same float operations in the same order, so the same
// roundings.  Arguments outside (-87.34, 0] (and NaN) go to the library.
// About 50 instructions, the division inline, instead of about 120.
// tests/test_s3_kernels.py compares it with the library's expf for every
// float in (-87.34, 0] on the host, and the softmax on the S3 core.
// Plain C: the host harness compiles it too.
static inline float llm_expf_nonpos(float x) {
    uint32_t hx = llm_fbits(x);
    if (hx < 0x80000000u || hx >= 0xc2aeac50u) {
        return expf(x);    // positive, +0 or NaN above; |x| >= 87.3366, -NaN below
    }
    if (hx <= 0xb9000000u) {
        return 1.0f + x;   // |x| <= 2**-14
    }
    int k;
    float hi, lo;
    if (hx > 0xbeb17218u) {    // |x| > 0.5 ln2
        if (hx > 0xbf851592u) {    // |x| > 1.5 ln2
            k = (int)(1.4426950216e+0f * x + -0.5f);
        } else {
            k = -1;
        }
        hi = x - (float)k * 6.9314575195e-1f;
        lo = (float)k * 1.4286067653e-6f;
        x = hi - lo;
    } else {
        k = 0;
        hi = x;
        lo = 0.0f;
    }
    float xx = x * x;
    float c = x - xx * (1.6666625440e-1f + xx * -2.7667332906e-3f);
    float y = 1.0f + (LLM_DIV(x * c, 2.0f - c) - lo + hi);
    if (k == 0) {
        return y;
    }
    // scalbnf(y, k) for -126 <= k < 0 (x > -87.34 keeps k >= -126): one
    // multiplication by the float 2**k.
    return y * llm_bitsf((uint32_t)(0x7f + k) << 23);
}

// x[i] = expf(x[i] - max) for i < n; returns their sum, added in order of i.
static inline float llm_exp_sub_sum(float *x, int n, float max) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = llm_expf_nonpos(x[i] - max);
        sum += x[i];
    }
    return sum;
}

#if defined(__XTENSA__)

// Rows [0, d - d % 8) of out = W @ x; returns how many rows it did.
// f0-f7: the eight sums; f8: x[j]; f9-f12: products.
static int llm_matmul_f32_x8(float *out, const float *x, const float *w, int n, int d) {
    int i = 0;
    for (; i + 8 <= d; i += 8) {
        const float *r0 = w + (intptr_t)i * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
        const float *r4 = r3 + n, *r5 = r4 + n, *r6 = r5 + n, *r7 = r6 + n;
        const float *xp = x;
        __asm__ volatile (
            "const.s f0, 0\n" "const.s f1, 0\n" "const.s f2, 0\n" "const.s f3, 0\n"
            "const.s f4, 0\n" "const.s f5, 0\n" "const.s f6, 0\n" "const.s f7, 0\n"
            "loopnez %[n], 1f\n"
            "lsip f8, %[xp], 4\n"
            "lsip f9, %[r0], 4\n"
            "lsip f10, %[r1], 4\n"
            "mul.s f9, f9, f8\n"
            "lsip f11, %[r2], 4\n"
            "mul.s f10, f10, f8\n"
            "add.s f0, f0, f9\n"
            "lsip f12, %[r3], 4\n"
            "mul.s f11, f11, f8\n"
            "add.s f1, f1, f10\n"
            "lsip f9, %[r4], 4\n"
            "mul.s f12, f12, f8\n"
            "add.s f2, f2, f11\n"
            "lsip f10, %[r5], 4\n"
            "mul.s f9, f9, f8\n"
            "add.s f3, f3, f12\n"
            "lsip f11, %[r6], 4\n"
            "mul.s f10, f10, f8\n"
            "add.s f4, f4, f9\n"
            "lsip f12, %[r7], 4\n"
            "mul.s f11, f11, f8\n"
            "add.s f5, f5, f10\n"
            "mul.s f12, f12, f8\n"
            "add.s f6, f6, f11\n"
            "add.s f7, f7, f12\n"
            "1:\n"
            "ssi f0, %[out], 0\n" "ssi f1, %[out], 4\n" "ssi f2, %[out], 8\n" "ssi f3, %[out], 12\n"
            "ssi f4, %[out], 16\n" "ssi f5, %[out], 20\n" "ssi f6, %[out], 24\n" "ssi f7, %[out], 28\n"
            : [r0] "+r" (r0), [r1] "+r" (r1), [r2] "+r" (r2), [r3] "+r" (r3),
              [r4] "+r" (r4), [r5] "+r" (r5), [r6] "+r" (r6), [r7] "+r" (r7), [xp] "+r" (xp)
            : [n] "r" (n), [out] "r" (out + i)
            : "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "memory");
    }
    return i;
}

// Attention scores over a transposed key cache (K[t][i] at k[t + i * ki]),
// eight dimensions at a time: att[t] continues the sum of earlier chunks
// (the first chunk starts from 0.0f), adding q[i] * K[t][i] in order of i.
// f8-f15: q[0..7]; f0: the sum; f1-f3: products.
#define LLM_SCORE_BODY \
    "lsip f1, %[c0], 4\n" \
    "lsip f2, %[c1], 4\n" \
    "mul.s f1, f1, f8\n" \
    "lsip f3, %[c2], 4\n" \
    "mul.s f2, f2, f9\n" \
    "add.s f0, f0, f1\n" \
    "lsip f1, %[c3], 4\n" \
    "mul.s f3, f3, f10\n" \
    "add.s f0, f0, f2\n" \
    "lsip f2, %[c4], 4\n" \
    "mul.s f1, f1, f11\n" \
    "add.s f0, f0, f3\n" \
    "lsip f3, %[c5], 4\n" \
    "mul.s f2, f2, f12\n" \
    "add.s f0, f0, f1\n" \
    "lsip f1, %[c6], 4\n" \
    "mul.s f3, f3, f13\n" \
    "add.s f0, f0, f2\n" \
    "lsip f2, %[c7], 4\n" \
    "mul.s f1, f1, f14\n" \
    "add.s f0, f0, f3\n" \
    "mul.s f2, f2, f15\n" \
    "add.s f0, f0, f1\n" \
    "add.s f0, f0, f2\n" \
    "ssip f0, %[bp], 4\n"
#define LLM_SCORE_LOAD_Q \
    "lsi f8, %[q], 0\n" "lsi f9, %[q], 4\n" "lsi f10, %[q], 8\n" "lsi f11, %[q], 12\n" \
    "lsi f12, %[q], 16\n" "lsi f13, %[q], 20\n" "lsi f14, %[q], 24\n" "lsi f15, %[q], 28\n"
#define LLM_SCORE_OPERANDS \
    : [c0] "+r" (c0), [c1] "+r" (c1), [c2] "+r" (c2), [c3] "+r" (c3), \
      [c4] "+r" (c4), [c5] "+r" (c5), [c6] "+r" (c6), [c7] "+r" (c7), [ap] "+r" (ap), [bp] "+r" (bp) \
    : [q] "r" (q), [n] "r" (n) \
    : "f0", "f1", "f2", "f3", "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15", "memory"

static void llm_scores_x8(float *att, const float *q, const float *k, int ki, int n, int first) {
    const float *c0 = k, *c1 = c0 + ki, *c2 = c1 + ki, *c3 = c2 + ki;
    const float *c4 = c3 + ki, *c5 = c4 + ki, *c6 = c5 + ki, *c7 = c6 + ki;
    float *ap = att, *bp = att;
    // Two copies of the loop, so that the choice is made once.
    if (first) {
        __asm__ volatile (LLM_SCORE_LOAD_Q "loopnez %[n], 1f\n" "const.s f0, 0\n" LLM_SCORE_BODY "1:\n"
            LLM_SCORE_OPERANDS);
    } else {
        __asm__ volatile (LLM_SCORE_LOAD_Q "loopnez %[n], 1f\n" "lsip f0, %[ap], 4\n" LLM_SCORE_BODY "1:\n"
            LLM_SCORE_OPERANDS);
    }
}
#undef LLM_SCORE_BODY
#undef LLM_SCORE_LOAD_Q
#undef LLM_SCORE_OPERANDS

// out[0..7] = sum over t of att[t] * V[t][i], in order of t from 0.0f, with
// V[t][i] at v[t * vt + i]: the eight sums stay in registers over all
// positions.  f0-f7: sums; f8: att[t]; f9-f11: products.
static void llm_values_x8(float *out, const float *att, const float *v, int vt, int n) {
    const float *ap = att, *vp = v;
    int stride = vt * (int)sizeof(float);
    __asm__ volatile (
        "const.s f0, 0\n" "const.s f1, 0\n" "const.s f2, 0\n" "const.s f3, 0\n"
        "const.s f4, 0\n" "const.s f5, 0\n" "const.s f6, 0\n" "const.s f7, 0\n"
        "loopnez %[n], 1f\n"
        "lsip f8, %[ap], 4\n"
        "lsi f9, %[vp], 0\n"
        "lsi f10, %[vp], 4\n"
        "mul.s f9, f9, f8\n"
        "lsi f11, %[vp], 8\n"
        "mul.s f10, f10, f8\n"
        "add.s f0, f0, f9\n"
        "lsi f9, %[vp], 12\n"
        "mul.s f11, f11, f8\n"
        "add.s f1, f1, f10\n"
        "lsi f10, %[vp], 16\n"
        "mul.s f9, f9, f8\n"
        "add.s f2, f2, f11\n"
        "lsi f11, %[vp], 20\n"
        "mul.s f10, f10, f8\n"
        "add.s f3, f3, f9\n"
        "lsi f9, %[vp], 24\n"
        "mul.s f11, f11, f8\n"
        "add.s f4, f4, f10\n"
        "lsi f10, %[vp], 28\n"
        "mul.s f9, f9, f8\n"
        "add.s f5, f5, f11\n"
        "mul.s f10, f10, f8\n"
        "add.s f6, f6, f9\n"
        "add %[vp], %[vp], %[stride]\n"
        "add.s f7, f7, f10\n"
        "1:\n"
        "ssi f0, %[out], 0\n" "ssi f1, %[out], 4\n" "ssi f2, %[out], 8\n" "ssi f3, %[out], 12\n"
        "ssi f4, %[out], 16\n" "ssi f5, %[out], 20\n" "ssi f6, %[out], 24\n" "ssi f7, %[out], 28\n"
        : [ap] "+r" (ap), [vp] "+r" (vp)
        : [n] "r" (n), [stride] "r" (stride), [out] "r" (out)
        : "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "memory");
}

// x[i] = x[i] / b for i < n, bit for bit as libgcc's __divsf3 on the S3:
// that is the FPU's own division sequence (div0.s, nexp01.s, maddn.s ...,
// divn.s), whose steps on b alone are done here once instead of once per
// element, and without a call per element.  The per-element steps are the
// same instructions on the same register values, so every quotient is the
// same; 16 instructions per element instead of about 36.
// f3: div0(b); f4: nexp01(b); f5, f6: refined reciprocals; f7: b.
static void llm_div_all(float *x, int n, float b) {
    float *p = x;
    __asm__ volatile (
        "lsi f2, %[b], 0\n"
        "div0.s f3, f2\n"
        "nexp01.s f4, f2\n"
        "const.s f5, 1\n"
        "maddn.s f5, f4, f3\n"
        "mov.s f6, f3\n"
        "mov.s f7, f2\n"
        "maddn.s f6, f5, f6\n"
        "const.s f5, 1\n"
        "maddn.s f5, f4, f6\n"
        "maddn.s f6, f5, f6\n"
        "mov.s f11, f6\n"
        "const.s f12, 1\n"
        "maddn.s f12, f4, f6\n"
        "maddn.s f6, f12, f6\n"
        "mov.s f5, f11\n"
        "loopnez %[n], 1f\n"
        "lsi f1, %[p], 0\n"
        "nexp01.s f2, f1\n"
        "const.s f0, 0\n"
        "neg.s f8, f2\n"
        "maddn.s f0, f8, f3\n"
        "mov.s f9, f7\n"
        "mkdadj.s f9, f1\n"
        "maddn.s f8, f4, f0\n"
        "maddn.s f0, f8, f5\n"
        "neg.s f2, f2\n"
        "maddn.s f2, f4, f0\n"
        "addexpm.s f0, f9\n"
        "mov.s f10, f6\n"
        "addexp.s f10, f9\n"
        "divn.s f0, f2, f10\n"
        "ssip f0, %[p], 4\n"
        "1:\n"
        : [p] "+r" (p)
        : [n] "r" (n), [b] "r" (&b)
        : "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "memory");
}

#endif // __XTENSA__

#endif
