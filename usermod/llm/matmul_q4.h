// The 4-bit weight matmul (.llm tensor type 2, docs/format.md).  Plain C:
// no MicroPython types.
#ifndef LLM_MATMUL_Q4_H
#define LLM_MATMUL_Q4_H

#include <stddef.h>
#include <stdint.h>

// out[d] = W[d][n] @ x[n] for 4-bit W and int8 x, both grouped by gs along
// n (gs even, dividing n: a padded row).  W's row i is n / 2 bytes at
// w + i * n / 2, each byte two codes q + 8 (q in [-8, 7]), the even column
// in the low nibble; its scales are halves ws[i * n / gs + g].  x is
// llm_quantize_q8's codes xq and scales xs in the same groups.  Per row and
// group the integer dot product is exact, and the float arithmetic is
// llm_matmul_q8's: sum += ((float)dot * w_scale) * x_scale, groups in order,
// so every target gives the same bits.
void llm_matmul_q4(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs);

// The same, told whether every scale of ws (d * n / gs halves) is plain:
// +0 or a positive normal half, as the converters write them
// (llm_q4_scales_plain).  plain = 1 lets the ESP32-S3 convert the scales
// without llm_half_to_float's branch, with the same bits; it is ignored
// elsewhere.  llm_matmul_q4 checks the scales itself on the S3; the model
// checks each tensor once when it is loaded (tensor.h's scales_plain).
void llm_matmul_q4_scaled(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs, int plain);

// 1 if each of the count halves is +0 or a positive normal half.
int llm_q4_scales_plain(const uint16_t *ws, size_t count);

// Row `row` of a 4-bit tensor with rows of n padded columns, as floats
// (q * scale) for its first cols values: the token embedding's lookup.
void llm_dequantize_q4_row(float *out, const uint8_t *w, const uint16_t *ws, int n, int gs, int row, int cols);

#endif
