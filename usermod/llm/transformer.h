// The llama2 forward pass over a flat weights struct, in the spirit of
// llama2.c's run.c.  Each matrix is float32 or int8 with float group scales.
#ifndef LLM_TRANSFORMER_H
#define LLM_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

enum { LLM_F32 = 0, LLM_Q8 = 1 };

// An int8 KV cache quantises one head at a time on the stack.
#define LLM_MAX_CACHE_HEAD (256)

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} llm_config_t;

typedef struct {
    const void *data;      // float32 or int8 [rows][cols]
    const uint16_t *scales; // int8 only: halves [rows][cols / group_size]
    int32_t type;          // LLM_F32 or LLM_Q8
    int32_t group_size;    // int8 only; divides cols
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
    llm_tensor_t embedding;    // [vocab][dim]
    llm_layer_t *layers;       // [n_layers]
    const float *rms_final;    // [dim]
    llm_tensor_t classifier;   // [vocab][dim]

    // Activations.
    float *x, *xb, *xb2, *hb, *hb2, *q, *kv_tmp, *att, *logits;
    int8_t *xq;                // x quantised for int8 matmuls
    float *xqs;
    float *rope_freq, *rope_cos, *rope_sin;
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
