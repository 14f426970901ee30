// The int8 attention's ESP32-S3 paths (attention_q8_simd.h): its SIMD
// (PIE), and its cache layout (kv_cache.h) without it.  Empty elsewhere.
#include <string.h>
#include "attention_q8_simd.h"
#include "fastexp.h"

#if LLM_ATT_Q8_PIE
// ESP32-S3: the SIMD (PIE) multiplies 16 int8 pairs and adds them into its
// 40-bit accumulator in one instruction; these use only the instructions the
// emulated core has (ee.zero.accx, ee.vld.128.ip, ee.vmulas.s8.accx,
// rur.accx_0).  Sums here fit int32, so the accumulator's low word is the
// portable code's int32 sum.  GCC never touches the q registers or the
// accumulator, so each asm statement owns them.

// Sum of a[j] * b[j] over chunks * 16 int8s, a and b 16-byte aligned.
static inline int32_t pie_dot_s8(const int8_t *a, const int8_t *b, int chunks) {
    int32_t r;
    __asm__ volatile (
        "ee.zero.accx\n"
        "loopnez %[n], .Lpie_dot_end%=\n"
        "ee.vld.128.ip q0, %[a], 16\n"
        "ee.vld.128.ip q1, %[b], 16\n"
        "ee.vmulas.s8.accx q0, q1\n"
        ".Lpie_dot_end%=:\n"
        "rur.accx_0 %[r]\n"
        : [r] "=r" (r), [a] "+r" (a), [b] "+r" (b)
        : [n] "r" (chunks)
        : "memory");  // reads chunks * 16 bytes: every store before it must be done
    return r;
}

// One head's scores over the S3 layout (keys by position, kstride bytes
// apart): att[t] = (q . K[t]) * (c * ks[t]) as scores_q8, for t < n; returns
// the largest.  qv holds the query twice, each qlen bytes (a multiple of 16):
// q then zeros, for positions that start a 16-byte chunk, and 8 zeros then q,
// for positions that start in its middle (kstride = 8 mod 16).
// kstride 8 (head_size <= 8): one chunk holds positions 2p and 2p + 1.
// acc[2p] and acc[2p + 1] for p < pairs, each one multiply-add instruction.
static inline void pie_scores_k8(int32_t *acc, const int8_t *qv, const int8_t *k, int pairs) {
    int32_t tmp;
    __asm__ volatile (
        "ee.vld.128.ip q2, %[q], 16\n"
        "ee.vld.128.ip q3, %[q], 16\n"
        "loopnez %[n], .Lpie_k8_end%=\n"
        "ee.vld.128.ip q0, %[k], 16\n"
        "ee.zero.accx\n"
        "ee.vmulas.s8.accx q0, q2\n"
        "rur.accx_0 %[t]\n"
        "s32i %[t], %[a], 0\n"
        "ee.zero.accx\n"
        "ee.vmulas.s8.accx q0, q3\n"
        "rur.accx_0 %[t]\n"
        "s32i %[t], %[a], 4\n"
        "addi %[a], %[a], 8\n"
        ".Lpie_k8_end%=:\n"
        : [q] "+r" (qv), [k] "+r" (k), [a] "+r" (acc), [t] "=&r" (tmp)
        : [n] "r" (pairs)
        : "memory");
}

static float scores_pie(float *att, const int8_t *qv, int qlen, float c, const int8_t *k, int kstride,
    const float *ks, int n) {
    int32_t acc[SCORE_BLOCK];
    int chunks = qlen / 16;
    float mv = 0.0f;
    for (int t0 = 0; t0 < n; t0 += SCORE_BLOCK) {
        int len = n - t0 < SCORE_BLOCK ? n - t0 : SCORE_BLOCK;
        if (kstride == 8) {
            pie_scores_k8(acc, qv, k + (intptr_t)t0 * 8, (len + 1) / 2);
        } else {
            for (int j = 0; j < len; j++) {
                int off = (t0 + j) * kstride;
                acc[j] = pie_dot_s8((off & 8) ? qv + qlen : qv, k + (off & ~15), chunks);
            }
        }
        if (t0 == 0) {
            mv = (float)acc[0] * (c * ks[0]);
        }
        for (int j = 0; j < len; j++) {
            float s = (float)acc[j] * (c * ks[t0 + j]);
            att[t0 + j] = s;
            mv = s > mv ? s : mv;
        }
    }
    return mv;
}

void llm_att_q8_scores_s3(float *const *att, const int8_t *const *q, const float *c, int nh,
    const int8_t *k, const float *ks, int ctx, int n, int head_size, float *max_val, int pie) {
    int kstride = llm_kv_kstride_q8(head_size);
    (void)ctx;
    if (pie == 1) {
        int qlen = (kstride + 15) & ~15;
        for (int h = 0; h < nh; h++) {
            int8_t qv[2 * (LLM_MAX_CACHE_HEAD + 16)] __attribute__((aligned(16)));
            memset(qv, 0, (size_t)qlen * 2);
            memcpy(qv, q[h], (size_t)head_size);
            memcpy(qv + qlen + 8, q[h], (size_t)head_size);
            max_val[h] = scores_pie(att[h], qv, qlen, c[h], k, kstride, ks, n);
        }
        return;
    }
    // An unaligned cache: the same sums without the SIMD.
    for (int h = 0; h < nh; h++) {
        for (int t = 0; t < n; t++) {
            int32_t acc = 0;
            for (int i = 0; i < head_size; i++) {
                acc += (int32_t)q[h][i] * k[(intptr_t)t * kstride + i];
            }
            float sc = (float)acc * (c[h] * ks[t]);
            att[h][t] = sc;
            max_val[h] = (t == 0 || sc > max_val[h]) ? sc : max_val[h];
        }
    }
}

void llm_att_q8_block_s3(float *const *out, float *const *att, const float *max_val, int nh,
    const int8_t *v, const float *vs, float inv, float scale, int t0, int len, int vstride, int head_size,
    int16_t (*wbuf)[LLM_ATT_Q8_BLOCK]) {
    // Each weight w = 256 hi + lo as two int8 digits, zero past len: two
    // int8 sums per row give w . row exactly.  They take wbuf's room (the
    // same size): the attention may run on a worker task's small stack.
    int8_t (*dig)[2][LLM_ATT_Q8_BLOCK] = (int8_t (*)[2][LLM_ATT_Q8_BLOCK])(void *)wbuf;
    const float *vst = vs + t0;
    for (int h = 0; h < nh; h++) {
        // Two loops, so that each keeps its constants in the S3's 16 float
        // registers; the portable code's operations.
        float *e = att[h] + t0;
        float mv = max_val[h], one = opaque_f(1.0f), half = opaque_f(0.5f);
        uint32_t bias = opaque_u(127u - 0x4b400000u);
        for (int j = 0; j < len; j++) {
            e[j] = exp2_soft_k((e[j] - mv) * LOG2E, one, bias);
        }
        int8_t *hi = dig[h][0], *lo = dig[h][1];
        for (int j = 0; j < len; j++) {
            float wj = e[j] * vst[j] * inv + half;
            wj = wj > (float)LLM_ATT_Q8_WMAX ? (float)LLM_ATT_Q8_WMAX : wj;
            int32_t wi = (int32_t)wj;
            int32_t l = (int32_t)(int8_t)(uint8_t)wi;
            hi[j] = (int8_t)((wi - l) >> 8);
            lo[j] = (int8_t)l;
        }
    }
    int len16 = (len + 15) & ~15, chunks = len16 / 16;
    for (int h = 0; h < nh; h++) {
        for (int j = len; j < len16; j++) {
            dig[h][0][j] = dig[h][1][j] = 0;
        }
        for (int i = 0; i < head_size; i++) {
            const int8_t *row = v + (intptr_t)i * vstride + t0;
            int32_t dot = pie_dot_s8(dig[h][0], row, chunks) * 256 + pie_dot_s8(dig[h][1], row, chunks);
            out[h][i] += (float)dot * scale;
        }
    }
}

#endif
