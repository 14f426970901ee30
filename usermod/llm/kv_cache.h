// The KV cache: its bytes, its layout, storing a position's keys and values,
// and the attention over it, for each type a cache may have (fileformat.h's
// LLM_FILE_KV_TYPES).  Adding a type: its layout and bytes here, its store
// and attention in kv_cache.c's switches, its kernel.  Plain C.
#ifndef LLM_KV_CACHE_H
#define LLM_KV_CACHE_H

#include <stdint.h>
#include "fileformat.h"
#include "target.h"

// The largest head size: an int8 cache quantises one head at a time on the
// stack, and the bindings check it (config, rope()) and name it in their
// messages.
#define LLM_MAX_CACHE_HEAD (256)

// The ESP32-S3's SIMD (PIE) path of the int8 attention and its layout (the
// emulated core's subset: ee.zero.accx, ee.vld.128.ip, ee.vmulas.s8.accx,
// rur.accx_0).
#define LLM_ATT_Q8_PIE LLM_S3

// The cache is a block per layer and KV head, blocks by head, then by layer.
// LLM_F32: keys transposed, [head_size][ctx] floats, so that attention
// scores run over positions with SIMD; values by position, [ctx][head_size].
// LLM_Q8: int8 codes with one float scale per position for keys (ks[t]) and
// for values (vs[t]), in arrays of their own [layer][kv head][ctx]:
// - portable: keys and values transposed, k[i * ctx + t], v[i * ctx + t];
// - S3 (LLM_ATT_Q8_PIE): keys by position, k[t * kstride + i], each
//   position's codes padded to kstride = head_size rounded up to 8 (the SIMD
//   reads whole 16-byte chunks: a position starts at byte 0 or 8 of one);
//   values transposed with rows of ctx rounded up to 16 positions,
//   v[i * vstride + t].  Blocks are multiples of 16 bytes, so a 16-byte
//   aligned cache (the GC heap's blocks are) gives aligned rows; an
//   unaligned one is read without the SIMD.
// Both layouts hold the same codes and give the same results, bit for bit
// (tests/test_attention_q8.py, tests/test_s3_kernels.py).
static inline int llm_kv_kstride_q8(int head_size) {
    return LLM_ATT_Q8_PIE ? (head_size + 7) & ~7 : head_size;
}
static inline int llm_kv_vstride_q8(int ctx) {
    return LLM_ATT_Q8_PIE ? (ctx + 15) & ~15 : ctx;
}
static inline uint64_t llm_kv_block_bytes_q8(int ctx, int head_size) {
    // S3: ctx * kstride keys and head_size * vstride values both fit in
    // vstride * kstride, a multiple of 16.
    return (uint64_t)llm_kv_vstride_q8(ctx) * llm_kv_kstride_q8(head_size);
}

typedef struct {
    llm_type_t type;          // one of LLM_FILE_KV_TYPES
    int n_kv_heads, head_size, ctx;
    void *keys, *values;      // F32: floats; Q8: codes
    float *key_scales, *value_scales; // Q8: [layer][kv head][ctx]
} llm_kv_cache_t;

// Whether a KV cache may have this type.
int llm_kv_type_ok(int type);

// Bytes of a cache for n_layers, n_kv_heads heads of head_size, ctx
// positions.  64-bit so that a 32-bit MCU can tell "too big" from a
// wrapped-around size.
uint64_t llm_kv_bytes(llm_type_t type, int n_layers, int n_kv_heads, int head_size, int ctx);

// Point kv into mem (llm_kv_bytes of them, 4-byte aligned; 16-byte aligned
// for the S3's SIMD).  kv->type is set; the caller zeroes mem.
void llm_kv_bind(llm_kv_cache_t *kv, int n_layers, int n_kv_heads, int head_size, int ctx, void *mem);

// Write position pos's keys k and values v (n_kv_heads * head_size floats
// each) into layer's blocks.
void llm_kv_store(llm_kv_cache_t *kv, int layer, int pos, const float *k, const float *v);

// The queries of one position as the cache's attention takes them: for
// LLM_Q8, q (n floats, heads of head_size) as int8 codes qq with one scale
// per head in qs; nothing for LLM_F32.
void llm_kv_queries(const llm_kv_cache_t *kv, const float *q, int n, int8_t *qq, float *qs);

// Attention at position pos over KV heads [kv_start, kv_end) of layer, each
// with the nq query heads that share it (heads g * nq to g * nq + nq - 1):
// head h's query is q (or qq, qs: llm_kv_queries) + h * head_size, its
// output out + h * head_size, its scores att + h * ctx.  exact: llama2.c's
// arithmetic over an F32 cache (llm_attention_f32), else the fast softmax
// (llm_attention_f32_fast).
void llm_kv_attention(const llm_kv_cache_t *kv, int layer, int kv_start, int kv_end, int pos, int nq, float *out,
    float *att, const float *q, const int8_t *qq, const float *qs, int exact);

#endif
