// The llama2 forward pass over a flat weights struct, in the spirit of
// llama2.c's run.c.  Each matrix is float32 or int8 with float group scales.
#ifndef LLM_TRANSFORMER_H
#define LLM_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

enum { LLM_F32 = 0, LLM_Q8 = 1, LLM_Q4 = 2 };

// The largest head size: an int8 KV cache quantises one head at a time on
// the stack, and the bindings check it (config, rope()) and name it in
// their messages.
#define LLM_MAX_CACHE_HEAD (256)

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} llm_config_t;

typedef struct {
    const void *data;      // float32 [rows][cols], int8 [rows][cols padded to group_size], or int4 at two per byte
    const uint16_t *scales; // int8 and int4: halves [rows][padded cols / group_size]
    int32_t type;          // LLM_F32, LLM_Q8 or LLM_Q4
    int32_t group_size;    // int8 only; rows padded with zeros to a multiple of it
} llm_tensor_t;

typedef struct {
    const float *rms_att, *rms_ffn;   // [dim]
    llm_tensor_t wq, wk, wv, wo;      // [dim][dim], [kv_dim][dim] x2, [dim][dim]
    llm_tensor_t w1, w2, w3;          // [hidden][dim], [dim][hidden], [hidden][dim]
} llm_layer_t;

typedef struct {
    llm_config_t cfg;
    int ctx;                   // positions the KV cache holds (<= seq_len)
    int kv_q8;                 // KV cache stored as int8, one scale per head
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
    // KV cache, float or int8: see kv_block() in transformer.c for the layout.
    void *key_cache, *value_cache;
    float *key_scales, *value_scales;
} llm_model_t;

// Bytes of activations and KV cache that a model needs (llm_model_bind_state).
// 64-bit so that a 32-bit MCU can tell "too big" from a wrapped-around size.
uint64_t llm_state_bytes(const llm_config_t *cfg, int ctx);
uint64_t llm_kv_bytes(const llm_config_t *cfg, int ctx, int kv_q8);

// Point the activation and KV pointers into caller-provided memory:
// state needs llm_state_bytes, kv needs llm_kv_bytes (both 4-byte aligned).
void llm_model_bind_state(llm_model_t *m, void *state, void *kv);

// Run one token at position pos (0 <= pos < ctx); logits land in m->logits.
void llm_forward(llm_model_t *m, int token, int pos);

#endif
