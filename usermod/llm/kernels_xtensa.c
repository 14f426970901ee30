// The ESP32-S3's assembly inner loops of the fp32 kernels (kernels_xtensa.h
// says why assembly, and how exactness is kept).  Empty elsewhere.
#include "kernels_xtensa.h"

#if LLM_S3

// Rows [0, d - d % 8) of out = W @ x; returns how many rows it did.
// f0-f7: the eight sums; f8: x[j]; f9-f12: products.
int llm_matmul_f32_x8(float *out, const float *x, const float *w, int n, int d) {
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

void llm_scores_x8(float *att, const float *q, const float *k, int ki, int n, int first) {
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
void llm_values_x8(float *out, const float *att, const float *v, int vt, int n) {
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
void llm_div_all(float *x, int n, float b) {
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

#endif
