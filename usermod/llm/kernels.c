#include <math.h>
#include <string.h>
#include "kernels.h"
#include "kernels_xtensa.h"  // where LLM_S3: the assembly loops, the inline expf

void llm_matmul_f32(float *out, const float *x, const float *w, int n, int d) {
    // Four rows at a time share each load of x and the loop overhead; every
    // row still sums left to right, so results equal llama2.c's.
    int i = 0;
    #if LLM_S3
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
    #if LLM_S3
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
    #if LLM_S3
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
