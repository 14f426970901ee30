#include <string.h>
#include "attention_q8.h"
#include "kernels.h"
#include "matmul_q4.h"
#include "parallel.h"
#include "transformer.h"

static int kv_dim(const llm_config_t *c) {
    return c->dim / c->n_heads * c->n_kv_heads;
}

// Largest group size over all int8 tensors is bounded by the row length, so
// the quantised-activation buffers are sized by the longest row.
static int max_row(const llm_config_t *c) {
    return c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
}

// int8 rows are padded to a multiple of their group size, which divides the
// row or is at most the row rounded up to 16 (the loader checks), so a
// padded row is shorter than 2 * row + 16; and 16 more bytes to align xq
// for the S3's SIMD.
static uint64_t xq_bytes(const llm_config_t *c) {
    return 2 * (uint64_t)max_row(c) + 32;
}

static int padded(int cols, int gs) {
    return (cols + gs - 1) / gs * gs;
}

uint64_t llm_state_bytes(const llm_config_t *c, int ctx) {
    uint64_t floats = (uint64_t)c->dim * 5        // x, xb, xb2, q, kv_tmp
        + (uint64_t)c->hidden_dim * 2             // hb, hb2
        + (uint64_t)c->n_heads * ctx              // att
        + (uint64_t)c->vocab_size                 // logits
        + (uint64_t)max_row(c)                    // xqs (at most one scale per element)
        + (uint64_t)(c->dim / c->n_heads) / 2 * 3; // rope freq, cos, sin
    uint64_t bytes = floats * sizeof(float) + xq_bytes(c);
    return (bytes + 3) & ~(uint64_t)3;
}

uint64_t llm_kv_bytes(const llm_config_t *c, int ctx, int kv_q8) {
    uint64_t n = (uint64_t)c->n_layers * ctx * kv_dim(c);
    if (!kv_q8) {
        return 2 * n * sizeof(float);
    }
    // Codes: one block per layer and KV head (attention_q8.h's layout).
    n = (uint64_t)c->n_layers * c->n_kv_heads * llm_kv_q8_block_bytes(ctx, c->dim / c->n_heads);
    uint64_t scales = (uint64_t)c->n_layers * ctx * c->n_kv_heads;
    return 2 * (((n + 3) & ~(uint64_t)3) + scales * sizeof(float));
}

// fp32 weights with an fp32 KV cache are llama2.c's arithmetic, bit for bit,
// expf included.  Any int8 tensor or an int8 cache is not, so those runs may
// use the fast exponential (llm_exp_fast).
static int exact_path(const llm_model_t *m) {
    if (m->kv_q8 || m->embedding.type != LLM_F32 || m->classifier.type != LLM_F32) {
        return 0;
    }
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const llm_layer_t *w = &m->layers[l];
        const llm_tensor_t *t[7] = { &w->wq, &w->wk, &w->wv, &w->wo, &w->w1, &w->w2, &w->w3 };
        for (int i = 0; i < 7; i++) {
            if (t[i]->type != LLM_F32) {
                return 0;
            }
        }
    }
    return 1;
}

void llm_model_bind_state(llm_model_t *m, void *state, void *kv) {
    const llm_config_t *c = &m->cfg;
    float *f = state;
    int half = c->dim / c->n_heads / 2;
    // logits first: a memoryview of them then points at the block's start,
    // which is what keeps a GC block alive.
    m->logits = f; f += c->vocab_size;
    m->x = f; f += c->dim;
    m->xb = f; f += c->dim;
    m->xb2 = f; f += c->dim;
    m->q = f; f += c->dim;
    m->kv_tmp = f; f += c->dim;
    m->hb = f; f += c->hidden_dim;
    m->hb2 = f; f += c->hidden_dim;
    m->att = f; f += (size_t)c->n_heads * m->ctx;
    m->xqs = f; f += max_row(c);
    m->rope_freq = f; f += half;
    m->rope_cos = f; f += half;
    m->rope_sin = f; f += half;
    m->xq = (int8_t *)(((uintptr_t)f + 15) & ~(uintptr_t)15);
    m->xq_gs = 0;
    m->exact = exact_path(m);
    if (m->exact) {
        llm_rope_freqs(m->rope_freq, c->dim / c->n_heads);
    } else {
        llm_rope_freqs_portable(m->rope_freq, c->dim / c->n_heads);
    }

    size_t n = (size_t)c->n_layers * m->ctx * kv_dim(c);
    if (!m->kv_q8) {
        m->key_cache = kv;
        m->value_cache = (float *)kv + n;
        m->key_scales = m->value_scales = NULL;
    } else {
        n = (size_t)c->n_layers * c->n_kv_heads * (size_t)llm_kv_q8_block_bytes(m->ctx, c->dim / c->n_heads);
        size_t n4 = (n + 3) & ~(size_t)3;
        size_t scales = (size_t)c->n_layers * m->ctx * c->n_kv_heads;
        uint8_t *b = kv;
        m->key_cache = b; b += n4;
        m->value_cache = b; b += n4;
        m->key_scales = (float *)b; b += scales * sizeof(float);
        m->value_scales = (float *)b;
    }
}

typedef struct {
    float *out;
    const float *x;
    const llm_tensor_t *w;
    const int8_t *xq;
    const float *xs;
    int n;
} matmul_job_t;

// Rows [start, end) of one matmul: each core takes a band of rows.
static void matmul_rows(void *arg, int start, int end) {
    matmul_job_t *j = arg;
    const llm_tensor_t *w = j->w;
    if (w->type == LLM_F32) {
        llm_matmul_f32(j->out + start, j->x, (const float *)w->data + (intptr_t)start * j->n, j->n, end - start);
    } else if (w->type == LLM_Q4) {
        llm_matmul_q4(j->out + start, j->xq, j->xs, (const uint8_t *)w->data + (intptr_t)start * (j->n / 2),
            w->scales + (intptr_t)start * (j->n / w->group_size), j->n, end - start, w->group_size);
    } else {
        llm_matmul_q8(j->out + start, j->xq, j->xs, (const int8_t *)w->data + (intptr_t)start * j->n,
            w->scales + (intptr_t)start * (j->n / w->group_size), j->n, end - start, w->group_size);
    }
}


// out[d] = w @ x[n].  reuse: x is the previous matmul's input, unchanged,
// so its int8 codes are still in m->xq if they were made for the same
// group size.
static void matmul(llm_model_t *m, float *out, const float *x, const llm_tensor_t *w, int n, int d, int reuse) {
    if (!reuse) {
        m->xq_gs = 0;
    }
    int stride = n;
    if (w->type == LLM_Q8 || w->type == LLM_Q4) {
        if (m->xq_gs != w->group_size) {
            // In the tensor's groups, the codes padded with zeros as its rows.
            llm_quantize_q8(m->xq, m->xqs, x, n, w->group_size);
            m->xq_gs = w->group_size;
        }
        stride = padded(n, w->group_size);
    }
    matmul_job_t job = { out, x, w, m->xq, m->xqs, stride };
    llm_parallel_for(matmul_rows, &job, d, n);
}

static void embed(float *x, const llm_tensor_t *e, int token, int dim) {
    if (e->type == LLM_F32) {
        memcpy(x, (const float *)e->data + (intptr_t)token * dim, (size_t)dim * sizeof(float));
        return;
    }
    int stride = padded(dim, e->group_size);
    if (e->type == LLM_Q4) {
        llm_dequantize_q4_row(x, e->data, e->scales, stride, e->group_size, token, dim);
        return;
    }
    const int8_t *row = (const int8_t *)e->data + (intptr_t)token * stride;
    const uint16_t *scales = e->scales + (intptr_t)token * (stride / e->group_size);
    for (int i = 0; i < dim; i++) {
        x[i] = (float)row[i] * llm_f16_to_f32(scales[i / e->group_size]);
    }
}

// The KV cache of one layer and KV head is a block: keys transposed,
// [head_size][ctx], so that attention scores run over positions with SIMD;
// float values by position, [ctx][head_size].  An int8 cache stores values
// transposed too, so that each output is an integer dot product over
// positions, and adds one scale per position for keys and for values; on
// the S3 its keys are by position (attention_q8.h: llm_kv_q8_block_bytes).
// Blocks follow each other by head, then by layer.
static size_t kv_block(const llm_model_t *m, int layer, int kv_head) {
    return ((size_t)layer * m->cfg.n_kv_heads + kv_head) * m->ctx;
}

// Byte offset of an int8 cache's block of codes (keys or values).
static size_t kv_q8_offset(const llm_model_t *m, int layer, int kv_head) {
    int hs = m->cfg.dim / m->cfg.n_heads;
    return ((size_t)layer * m->cfg.n_kv_heads + kv_head) * (size_t)llm_kv_q8_block_bytes(m->ctx, hs);
}

// Write this position's k and v (kv_dim floats each) into the cache.
static void store_kv(llm_model_t *m, int layer, int pos, const float *k, const float *v) {
    const llm_config_t *c = &m->cfg;
    int hs = c->dim / c->n_heads;
    for (int h = 0; h < c->n_kv_heads; h++) {
        size_t block = kv_block(m, layer, h);
        const float *kh = k + h * hs, *vh = v + h * hs;
        if (!m->kv_q8) {
            float *kc = (float *)m->key_cache + block * hs + pos;
            for (int i = 0; i < hs; i++) {
                kc[(size_t)i * m->ctx] = kh[i];
            }
            memcpy((float *)m->value_cache + (block + pos) * hs, vh, (size_t)hs * sizeof(float));
        } else {
            int8_t codes[LLM_MAX_CACHE_HEAD];
            size_t off = kv_q8_offset(m, layer, h);
            llm_quantize_q8(codes, m->key_scales + block + pos, kh, hs, hs);
            int8_t *kc = (int8_t *)m->key_cache + off;
            if (LLM_ATT_Q8_PIE) {
                memcpy(kc + (size_t)pos * llm_kv_q8_kstride(hs), codes, (size_t)hs);
            } else {
                for (int i = 0; i < hs; i++) {
                    kc[(size_t)i * m->ctx + pos] = codes[i];
                }
            }
            llm_quantize_q8(codes, m->value_scales + block + pos, vh, hs, hs);
            int8_t *vc = (int8_t *)m->value_cache + off + pos;
            size_t vstride = (size_t)llm_kv_q8_vstride(m->ctx);
            for (int i = 0; i < hs; i++) {
                vc[i * vstride] = codes[i];
            }
        }
    }
}

typedef struct {
    llm_model_t *m;
    int layer, pos;
    int exact;  // exact_path(): llama2.c's expf in the softmax
} attention_job_t;

// Heads [start, end) of one layer's attention over an fp32 cache: heads are
// independent.
static void attention_heads(void *arg, int start, int end) {
    attention_job_t *j = arg;
    llm_model_t *m = j->m;
    const llm_config_t *c = &m->cfg;
    int hs = c->dim / c->n_heads, kv_mul = c->n_heads / c->n_kv_heads;
    for (int h = start; h < end; h++) {
        size_t block = kv_block(m, j->layer, h / kv_mul);
        float *att = m->att + (size_t)h * m->ctx;
        float *out = m->xb + h * hs;
        const float *q = m->q + h * hs;
        if (j->exact) {
            llm_attention_f32(out, att, q, (const float *)m->key_cache + block * hs, 1, m->ctx,
                (const float *)m->value_cache + block * hs, hs, j->pos, hs);
        } else {
            llm_attention_f32_fast(out, att, q, (const float *)m->key_cache + block * hs,
                (const float *)m->value_cache + block * hs, m->ctx, j->pos, hs);
        }
    }
}

// KV heads [start, end) over an int8 cache: the query heads that share a KV
// head go together, so that its keys and values are unpacked once for all.
static void attention_kv_heads(void *arg, int start, int end) {
    attention_job_t *j = arg;
    llm_model_t *m = j->m;
    const llm_config_t *c = &m->cfg;
    int hs = c->dim / c->n_heads, kv_mul = c->n_heads / c->n_kv_heads;
    for (int g = start; g < end; g++) {
        size_t block = kv_block(m, j->layer, g);
        int h = g * kv_mul;
        size_t off = kv_q8_offset(m, j->layer, g);
        llm_attention_q8_cache(m->xb + h * hs, m->att + (size_t)h * m->ctx, m->ctx, m->xq + h * hs, m->xqs + h, kv_mul,
            (const int8_t *)m->key_cache + off, m->key_scales + block,
            (const int8_t *)m->value_cache + off, m->value_scales + block, m->ctx, j->pos, hs);
    }
}

void llm_forward(llm_model_t *m, int token, int pos) {
    const llm_config_t *c = &m->cfg;
    int exact = m->exact;
    int dim = c->dim, hidden = c->hidden_dim, head_size = dim / c->n_heads;
    int kvd = kv_dim(c);
    float *x = m->x;

    embed(x, &m->embedding, token, dim);
    // The rotation depends on the position only, not the layer.
    if (exact) {
        llm_rope_table(m->rope_cos, m->rope_sin, m->rope_freq, head_size, pos);
    } else {
        llm_rope_table_portable(m->rope_cos, m->rope_sin, m->rope_freq, head_size, pos);
    }

    for (int l = 0; l < c->n_layers; l++) {
        const llm_layer_t *w = &m->layers[l];
        llm_rmsnorm(m->xb, x, w->rms_att, dim);

        // k and v are computed into scratch space (xb2 is free until the
        // output projection), then written into the cache's layout.
        float *k = m->xb2, *v = m->kv_tmp;
        matmul(m, m->q, m->xb, &w->wq, dim, dim, 0);
        matmul(m, k, m->xb, &w->wk, dim, kvd, 1);
        matmul(m, v, m->xb, &w->wv, dim, kvd, 1);
        llm_rope_apply(m->q, m->rope_cos, m->rope_sin, dim, head_size);
        llm_rope_apply(k, m->rope_cos, m->rope_sin, kvd, head_size);
        store_kv(m, l, pos, k, v);

        attention_job_t job = { m, l, pos, exact };
        if (m->kv_q8) {
            // Each head's query as int8, one scale per head, in the matmul
            // input buffers (free until the output projection).
            llm_quantize_q8(m->xq, m->xqs, m->q, dim, head_size);
            int kv_mul = c->n_heads / c->n_kv_heads;
            llm_parallel_for(attention_kv_heads, &job, c->n_kv_heads, (long)(pos + 1) * head_size * 2 * kv_mul);
        } else {
            llm_parallel_for(attention_heads, &job, c->n_heads, (long)(pos + 1) * head_size * 2);
        }

        matmul(m, m->xb2, m->xb, &w->wo, dim, dim, 0);
        for (int i = 0; i < dim; i++) {
            x[i] += m->xb2[i];
        }

        llm_rmsnorm(m->xb, x, w->rms_ffn, dim);
        matmul(m, m->hb, m->xb, &w->w1, dim, hidden, 0);
        matmul(m, m->hb2, m->xb, &w->w3, dim, hidden, 1);
        if (exact) {
            llm_swiglu(m->hb, m->hb2, hidden);
        } else {
            llm_swiglu_fast(m->hb, m->hb2, hidden);
        }
        matmul(m, m->xb, m->hb, &w->w2, hidden, dim, 0);
        for (int i = 0; i < dim; i++) {
            x[i] += m->xb[i];
        }
    }

    llm_rmsnorm(x, x, m->rms_final, dim);
    matmul(m, m->logits, x, &m->classifier, dim, c->vocab_size, 0);
}
