#include <string.h>
#include "attention_q8.h"
#include "kernels.h"
#include "quant.h"
#include "kv_cache.h"

int llm_kv_type_ok(int type) {
    #define LLM_KV_TYPE_IS(t) type == (t) ||
    return LLM_FILE_KV_TYPES(LLM_KV_TYPE_IS) 0;
    #undef LLM_KV_TYPE_IS
}

// Q8: the codes' blocks, rounded up to 4 bytes so that the scales after them
// are aligned.
static uint64_t q8_codes_bytes(int n_layers, int n_kv_heads, int head_size, int ctx) {
    uint64_t n = (uint64_t)n_layers * n_kv_heads * llm_kv_block_bytes_q8(ctx, head_size);
    return (n + 3) & ~(uint64_t)3;
}

uint64_t llm_kv_bytes(llm_type_t type, int n_layers, int n_kv_heads, int head_size, int ctx) {
    uint64_t positions = (uint64_t)n_layers * n_kv_heads * ctx;
    switch (type) {
        case LLM_Q8:
            return 2 * (q8_codes_bytes(n_layers, n_kv_heads, head_size, ctx) + positions * sizeof(float));
        default:  // LLM_F32
            return 2 * positions * head_size * sizeof(float);
    }
}

void llm_kv_bind(llm_kv_cache_t *kv, int n_layers, int n_kv_heads, int head_size, int ctx, void *mem) {
    kv->n_kv_heads = n_kv_heads;
    kv->head_size = head_size;
    kv->ctx = ctx;
    size_t positions = (size_t)n_layers * n_kv_heads * ctx;
    uint8_t *b = mem;
    switch (kv->type) {
        case LLM_Q8: {
            // Keys' codes, values' codes, keys' scales, values' scales.
            size_t codes = (size_t)q8_codes_bytes(n_layers, n_kv_heads, head_size, ctx);
            kv->keys = b; b += codes;
            kv->values = b; b += codes;
            kv->key_scales = (float *)b; b += positions * sizeof(float);
            kv->value_scales = (float *)b;
            break;
        }
        default:  // LLM_F32
            kv->keys = b;
            kv->values = b + positions * head_size * sizeof(float);
            kv->key_scales = kv->value_scales = NULL;
            break;
    }
}

// Index of the first position of layer's block of KV head h, in positions.
static size_t block(const llm_kv_cache_t *kv, int layer, int h) {
    return ((size_t)layer * kv->n_kv_heads + h) * kv->ctx;
}

// Q8: byte offset of that block's codes (keys or values).
static size_t q8_offset(const llm_kv_cache_t *kv, int layer, int h) {
    return ((size_t)layer * kv->n_kv_heads + h) * (size_t)llm_kv_block_bytes_q8(kv->ctx, kv->head_size);
}

static void store_f32(llm_kv_cache_t *kv, size_t b, int pos, const float *k, const float *v) {
    int hs = kv->head_size;
    float *kc = (float *)kv->keys + b * hs + pos;
    for (int i = 0; i < hs; i++) {
        kc[(size_t)i * kv->ctx] = k[i];
    }
    memcpy((float *)kv->values + (b + pos) * hs, v, (size_t)hs * sizeof(float));
}

static void store_q8(llm_kv_cache_t *kv, size_t b, size_t off, int pos, const float *k, const float *v) {
    int hs = kv->head_size;
    int8_t codes[LLM_MAX_CACHE_HEAD];
    llm_quantize_q8(codes, kv->key_scales + b + pos, k, hs, hs);
    int8_t *kc = (int8_t *)kv->keys + off;
    if (LLM_ATT_Q8_PIE) {
        memcpy(kc + (size_t)pos * llm_kv_kstride_q8(hs), codes, (size_t)hs);
    } else {
        for (int i = 0; i < hs; i++) {
            kc[(size_t)i * kv->ctx + pos] = codes[i];
        }
    }
    llm_quantize_q8(codes, kv->value_scales + b + pos, v, hs, hs);
    int8_t *vc = (int8_t *)kv->values + off + pos;
    size_t vstride = (size_t)llm_kv_vstride_q8(kv->ctx);
    for (int i = 0; i < hs; i++) {
        vc[i * vstride] = codes[i];
    }
}

void llm_kv_store(llm_kv_cache_t *kv, int layer, int pos, const float *k, const float *v) {
    int hs = kv->head_size;
    for (int h = 0; h < kv->n_kv_heads; h++) {
        switch (kv->type) {
            case LLM_Q8:
                store_q8(kv, block(kv, layer, h), q8_offset(kv, layer, h), pos, k + h * hs, v + h * hs);
                break;
            default:  // LLM_F32
                store_f32(kv, block(kv, layer, h), pos, k + h * hs, v + h * hs);
                break;
        }
    }
}

void llm_kv_queries(const llm_kv_cache_t *kv, const float *q, int n, int8_t *qq, float *qs) {
    if (kv->type == LLM_Q8) {
        llm_quantize_q8(qq, qs, q, n, kv->head_size);
    }
}

void llm_kv_attention(const llm_kv_cache_t *kv, int layer, int kv_start, int kv_end, int pos, int nq, float *out,
    float *att, const float *q, const int8_t *qq, const float *qs, int exact) {
    int hs = kv->head_size, ctx = kv->ctx;
    switch (kv->type) {
        case LLM_Q8:
            for (int g = kv_start; g < kv_end; g++) {
                // The query heads together, so that the keys and values are
                // unpacked once for all.
                size_t b = block(kv, layer, g), off = q8_offset(kv, layer, g), h = (size_t)g * nq;
                llm_attention_q8_cache(out + h * hs, att + h * ctx, ctx, qq + h * hs, qs + h, nq,
                    (const int8_t *)kv->keys + off, kv->key_scales + b,
                    (const int8_t *)kv->values + off, kv->value_scales + b, ctx, pos, hs);
            }
            break;
        default:  // LLM_F32
            for (int h = kv_start * nq; h < kv_end * nq; h++) {
                size_t b = block(kv, layer, h / nq) * hs;
                const float *k = (const float *)kv->keys + b, *v = (const float *)kv->values + b;
                if (exact) {
                    llm_attention_f32(out + h * hs, att + (size_t)h * ctx, q + h * hs, k, 1, ctx, v, hs, pos, hs);
                } else {
                    llm_attention_f32_fast(out + h * hs, att + (size_t)h * ctx, q + h * hs, k, v, ctx, pos, hs);
                }
            }
            break;
    }
}
