// ESP32-S3 (Xtensa LX7) pieces of the fp32 kernels: inline here, the FPU's
// division and the softmax's expf; in kernels_xtensa.c, the assembly inner
// loops, which kernels.c calls where LLM_S3 (target.h).
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
#include "target.h"

#if LLM_S3
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
#else
#define LLM_DIV(a, b) ((a) / (b))
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

#if LLM_S3
// Rows [0, d - d % 8) of out = W @ x (llm_matmul_f32's sums); returns how
// many rows it did.
int llm_matmul_f32_x8(float *out, const float *x, const float *w, int n, int d);

// Attention scores over a transposed key cache (K[t][i] at k[t + i * ki]),
// eight dimensions at a time: att[t] continues the sum of earlier chunks
// (the first chunk starts from 0.0f), adding q[i] * K[t][i] in order of i.
void llm_scores_x8(float *att, const float *q, const float *k, int ki, int n, int first);

// out[0..7] = sum over t of att[t] * V[t][i], in order of t from 0.0f, with
// V[t][i] at v[t * vt + i].
void llm_values_x8(float *out, const float *att, const float *v, int vt, int n);

// x[i] = x[i] / b for i < n, bit for bit as libgcc's __divsf3 on the S3.
void llm_div_all(float *x, int n, float b);
#endif

#endif
