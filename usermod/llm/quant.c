#include <math.h>
#include <string.h>
#include "quant.h"

// The common case of llm_quantize_q8's groups, the same codes and scale in
// fewer instructions: the largest |x| from the bits (integer maxima; NaN and
// Inf have bits above every finite value), and when it is finite and at
// least 2**-60, codes without the range checks, which such a group never
// needs (|x * 127 / amax| <= 127 up to one rounding).  Returns 0, having
// written nothing, for any other group.
typedef uint32_t __attribute__((may_alias)) llm_u32_alias_t;

static int quantize_group_finite(int8_t *q, float *scale, const float *x, int len) {
    const llm_u32_alias_t *bits = (const llm_u32_alias_t *)x;
    uint32_t amax_bits = 0;
    for (int j = 0; j < len; j++) {
        uint32_t b = bits[j] & 0x7fffffffu;
        amax_bits = b > amax_bits ? b : amax_bits;
    }
    // 0x21800000 is 2**-60; 0x7f800000 Inf.
    if (amax_bits < 0x21800000u || amax_bits >= 0x7f800000u) {
        return 0;
    }
    float amax;
    __builtin_memcpy(&amax, &amax_bits, sizeof(amax));
    *scale = amax / 127.0f;
    float inv = 127.0f / amax;
    for (int j = 0; j < len; j++) {
        // roundf without a libm call, as below.
        float v = x[j] * inv;
        int32_t r = (int32_t)v;
        float frac = v - (float)r;
        r += (frac >= 0.5f) - (frac <= -0.5f);
        q[j] = (int8_t)r;
    }
    return 1;
}

void llm_quantize_q8(int8_t *xq, float *xs, const float *x, int n, int gs) {
    // Codes stay in [-127, 127] for any input, as converting a float outside
    // int's range (NaN, Inf, x / a tiny maximum) to int is undefined: NaN
    // gives code 0 (fabsf(NaN) > amax is false, so NaN never is the maximum);
    // an infinite maximum gives scale Inf, codes +-127 for +-Inf and 0 for the
    // rest; a maximum so small that 127 / amax would overflow (subnormals)
    // is scaled up by 2^64 first, which is exact.
    // When gs does not divide n, the last group is short and its codes are
    // padded with zeros to gs (rows of padded int8 tensors, docs/format.md).
    int groups = (n + gs - 1) / gs;
    for (int g = 0; g < groups; g++) {
        const float *xg = x + g * gs;
        int len = n - g * gs < gs ? n - g * gs : gs;
        if (len < gs) {
            memset(xq + g * gs + len, 0, (size_t)(gs - len));
        }
        if (quantize_group_finite(xq + g * gs, xs + g, xg, len)) {
            continue;
        }
        float amax = 0.0f;
        for (int j = 0; j < len; j++) {
            float a = fabsf(xg[j]);
            if (a > amax) {
                amax = a;
            }
        }
        float scale = amax / 127.0f;
        xs[g] = scale;
        if (amax == 0.0f) {
            // Dividing by a zero scale would give NaN codes.
            memset(xq + g * gs, 0, (size_t)len);
            continue;
        }
        if (amax > 3.4028235e38f) {
            for (int j = 0; j < len; j++) {
                xq[g * gs + j] = (int8_t)(xg[j] == amax ? 127 : (xg[j] == -amax ? -127 : 0));
            }
            continue;
        }
        float pre = amax < 0x1p-60f ? 0x1p64f : 1.0f;
        float inv = 127.0f / (amax * pre);
        for (int j = 0; j < len; j++) {
            // roundf without a libm call: |v| <= 127, so v minus its integer
            // part is exact and the comparison decides as roundf would.
            float v = (xg[j] * pre) * inv;
            int r;
            if (v >= -127.0f && v <= 127.0f) {
                r = (int)v;
                float frac = v - (float)r;
                r += (frac >= 0.5f) - (frac <= -0.5f);
            } else {
                r = v > 0.0f ? 127 : (v < 0.0f ? -127 : 0);  // rounding at the edge; NaN
            }
            xq[g * gs + j] = (int8_t)r;
        }
    }
}

float llm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t rest = h & 0x7fff;
    uint32_t bits;
    if (rest >= 0x0400 && rest < 0x7c00) {
        // Normal numbers, the only kind a converter writes for non-zero scales:
        // rebias the exponent (15 -> 127) and widen the mantissa.
        bits = sign | ((rest << 13) + ((uint32_t)(127 - 15) << 23));
    } else if (rest >= 0x7c00) {
        bits = sign | 0x7f800000 | ((rest & 0x3ff) << 13);
    } else if (rest == 0) {
        bits = sign;
    } else {
        // Subnormal half: normalise the mantissa.
        uint32_t exp = 113, mant = rest;
        while ((mant & 0x400) == 0) {
            mant <<= 1;
            exp--;
        }
        bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    __builtin_memcpy(&f, &bits, sizeof(f));
    return f;
}
