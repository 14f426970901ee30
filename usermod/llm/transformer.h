// The llama2 forward pass over a flat weights struct, in the spirit of
// llama2.c's run.c.  Each matrix is a tensor of the file's types (tensor.h),
// the KV cache one of the types a cache may have (kv_cache.h).
#ifndef LLM_TRANSFORMER_H
#define LLM_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>
#include "kv_cache.h"
#include "tensor.h"

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} llm_config_t;

typedef struct {
    const float *rms_att, *rms_ffn;   // [dim]
    llm_tensor_t wq, wk, wv, wo;      // [dim][dim], [kv_dim][dim] x2, [dim][dim]
    llm_tensor_t w1, w2, w3;          // [hidden][dim], [dim][hidden], [hidden][dim]
} llm_layer_t;

typedef struct {
    llm_config_t cfg;
    int ctx;                   // positions the KV cache holds (<= seq_len)
    int exact;                 // fp32 weights and cache: llama2.c's arithmetic, libm included (set by bind_state)
    llm_tensor_t embedding;    // [vocab][dim]
    llm_layer_t *layers;       // [n_layers]
    const float *rms_final;    // [dim]
    llm_tensor_t classifier;   // [vocab][dim]

    // Activations (one block, llm_state_bytes; kv_dim = dim / n_heads * n_kv_heads).
    float *x;                  // [dim] the residual stream
    float *xb;                 // [dim] x normalised; then the attention's output
    float *xb2;                // [dim] k (kv_dim) before the cache; then the output projection
    float *hb, *hb2;           // [hidden_dim] the feed-forward's w1 and w3 products
    float *q;                  // [dim] query
    float *kv_tmp;             // [dim] v (kv_dim) before the cache
    float *att;                // [n_heads][ctx] attention scores
    float *logits;             // [vocab_size] output of the last forward
    int8_t *xq;                // x quantised for int8 matmuls, 16-byte aligned, rows padded
    int xq_gs;                 // group size xq was made with for the last matmul's input, 0 if none
    float *xqs;                // [max(dim, hidden_dim)] xq's group scales
    float *rope_freq, *rope_cos, *rope_sin; // [head_size / 2] RoPE frequencies, cos and sin at pos
    llm_kv_cache_t kv;         // kv.type set before llm_model_bind_state, the rest by it
} llm_model_t;

// Bytes of activations and KV cache that a model needs (llm_model_bind_state).
// 64-bit so that a 32-bit MCU can tell "too big" from a wrapped-around size.
uint64_t llm_state_bytes(const llm_config_t *cfg, int ctx);
uint64_t llm_model_kv_bytes(const llm_config_t *cfg, int ctx, llm_type_t kv_type);

// Point the activation and KV pointers into caller-provided memory:
// state needs llm_state_bytes, kv llm_model_kv_bytes for m->kv.type (both
// 4-byte aligned).
void llm_model_bind_state(llm_model_t *m, void *state, void *kv);

// Run one token at position pos (0 <= pos < ctx); logits land in m->logits.
void llm_forward(llm_model_t *m, int token, int pos);

#endif
