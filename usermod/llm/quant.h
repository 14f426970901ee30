// Quantisation: int8 codes with float group scales (activations, the KV
// cache), and the half-float scales of int8 weights.  Plain C.
#ifndef LLM_QUANT_H
#define LLM_QUANT_H

#include <stdint.h>
#include <string.h>
#include "target.h"

// Quantise x[n] into int8 groups of gs with one float scale each
// (scale = max|x| / 127).  An all-zero group gets scale 0 and zero codes.
// When gs does not divide n, the last group holds the n % gs values left,
// and its codes are padded with zeros to gs: xq needs n rounded up to a
// multiple of gs bytes (the padded rows of int8 tensors, docs/format.md).
void llm_quantize_q8(int8_t *xq, float *xs, const float *x, int n, int gs);

// IEEE half to float.  Weight scales are stored as halves: for rows of 64
// they cost 3% of the int8 bytes where float32 would cost 6%.
float llm_f16_to_f32(uint16_t h);

// llm_f16_to_f32 inline for the normal halves every non-zero scale a
// converter writes, by rebiasing the exponent (15 -> 127) and widening the
// mantissa, without a call (whose ABI would spill a loop's registers, the
// S3's windowed one above all) and moved into a float register directly
// (llm_bitsf); zero, subnormals, Inf and NaN through llm_f16_to_f32.
// matmul_q8_sse2.c's halves4 is the same, four at a time.
#define LLM_HALF_REBIAS ((uint32_t)(127 - 15) << 23)
static inline float llm_half_to_float(uint16_t h) {
    uint32_t rest = h & 0x7fffu;
    if (__builtin_expect(rest - 0x0400u < 0x7800u, 1)) {
        return llm_bitsf(((uint32_t)(h & 0x8000u) << 16) | ((rest << 13) + LLM_HALF_REBIAS));
    }
    return llm_f16_to_f32(h);
}

#endif
