#include <string.h>
#include "activations_fast.h"
#include "kernels.h"
#include "matmul_q4.h"
#include "matmul_q8.h"
#include "quant.h"
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

uint64_t llm_model_kv_bytes(const llm_config_t *c, int ctx, llm_type_t kv_type) {
    return llm_kv_bytes(kv_type, c->n_layers, c->n_kv_heads, c->dim / c->n_heads, ctx);
}

// fp32 weights with an fp32 KV cache are llama2.c's arithmetic, bit for bit,
// expf included.  Any int8 tensor or an int8 cache is not, so those runs may
// use the fast exponential (llm_exp_fast).
static int exact_path(const llm_model_t *m) {
    if (m->kv.type != LLM_F32 || m->embedding.type != LLM_F32 || m->classifier.type != LLM_F32) {
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

    llm_kv_bind(&m->kv, c->n_layers, c->n_kv_heads, c->dim / c->n_heads, m->ctx, kv);
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
    // The one place a weight's type picks its kernel.
    switch (w->type) {
        case LLM_Q8:
            llm_matmul_q8(j->out + start, j->xq, j->xs, (const int8_t *)w->data + (intptr_t)start * j->n,
                w->scales + (intptr_t)start * (j->n / w->group_size), j->n, end - start, w->group_size);
            break;
        case LLM_Q4:
            llm_matmul_q4_scaled(j->out + start, j->xq, j->xs, (const uint8_t *)w->data + (intptr_t)start * (j->n / 2),
                w->scales + (intptr_t)start * (j->n / w->group_size), j->n, end - start, w->group_size,
                w->scales_plain);
            break;
        default:  // LLM_F32
            llm_matmul_f32(j->out + start, j->x, (const float *)w->data + (intptr_t)start * j->n, j->n, end - start);
            break;
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
    if (w->type != LLM_F32) {
        if (m->xq_gs != w->group_size) {
            // In the tensor's groups, the codes padded with zeros as its rows.
            llm_quantize_q8(m->xq, m->xqs, x, n, w->group_size);
            m->xq_gs = w->group_size;
        }
        stride = (int)llm_padded_cols((uint32_t)n, (uint32_t)w->group_size);
    }
    matmul_job_t job = { out, x, w, m->xq, m->xqs, stride };
    llm_parallel_for(matmul_rows, &job, d, n);
}

static void embed(float *x, const llm_tensor_t *e, int token, int dim) {
    if (e->type == LLM_F32) {
        memcpy(x, (const float *)e->data + (intptr_t)token * dim, (size_t)dim * sizeof(float));
        return;
    }
    int stride = (int)llm_padded_cols((uint32_t)dim, (uint32_t)e->group_size);
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

typedef struct {
    llm_model_t *m;
    int layer, pos;
} attention_job_t;

// KV heads [start, end) of one layer's attention, each with the query heads
// that share it (grouped-query attention).
static void attention_kv_heads(void *arg, int start, int end) {
    attention_job_t *j = arg;
    llm_model_t *m = j->m;
    llm_kv_attention(&m->kv, j->layer, start, end, j->pos, m->cfg.n_heads / m->cfg.n_kv_heads, m->xb, m->att,
        m->q, m->xq, m->xqs, m->exact);
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
        llm_kv_store(&m->kv, l, pos, k, v);

        // The queries as the cache's attention takes them, in the matmul
        // input buffers (free until the output projection).
        llm_kv_queries(&m->kv, m->q, dim, m->xq, m->xqs);
        attention_job_t job = { m, l, pos };
        int kv_mul = c->n_heads / c->n_kv_heads;
        llm_parallel_for(attention_kv_heads, &job, c->n_kv_heads, (long)(pos + 1) * head_size * 2 * kv_mul);

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
