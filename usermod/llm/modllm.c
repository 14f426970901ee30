// MicroPython bindings of the _llm module: argument checking and object
// plumbing only.  The numeric work is in kernels.c, sampler.c,
// transformer.c and tokenizer.c, which know nothing of MicroPython.
#include <string.h>
#include "py/runtime.h"
#include "py/objarray.h"
#include "attention_q8.h"
#include "kernels.h"
#include "parallel.h"
#include "sampler.h"
#include "tokenizer.h"
#include "transformer.h"

// Bounds the rotation tables kept on the C stack (Llama models use 64-128).
#define LLM_MAX_HEAD_SIZE (256)

// Tables of qstrs are constant data in firmware.  In a native .mpy
// (usermod/natmod) qstrs get their numbers when the module is loaded, so
// there the tables are filled on the stack where they are used.
#if MICROPY_ENABLE_DYNRUNTIME
#define LLM_QSTR_TABLE const
#ifndef mp_type_MemoryError  // py/dynruntime.h names only some exception types
#define mp_type_MemoryError (*(mp_obj_type_t *)(mp_load_global(MP_QSTR_MemoryError)))
#endif
#else
#define LLM_QSTR_TABLE static const
#endif

// ---- buffer helpers -------------------------------------------------------

static void *get_buf(mp_obj_t obj, size_t *len, int flags) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(obj, &info, flags);
    *len = info.len;
    return info.buf;
}

// A float32 buffer: returns its element count; checks alignment.
static float *get_floats(mp_obj_t obj, size_t *count, int flags, qstr name) {
    size_t len;
    void *buf = get_buf(obj, &len, flags);
    if (((uintptr_t)buf & 3) != 0) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q: buffer not 4-byte aligned"), name);
    }
    if (len % 4 != 0) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q: buffer length %u is not a multiple of 4"),
            name, (unsigned)len);
    }
    *count = len / sizeof(float);
    return buf;
}

static void need_count(size_t have, size_t want, qstr name) {
    if (have < want) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("%q: need %u items, buffer holds %u"), name, (unsigned)want, (unsigned)have);
    }
}

static int get_positive(mp_obj_t obj, qstr name) {
    mp_int_t v = mp_obj_get_int(obj);
    if (v <= 0 || v > 0x7fffffff) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q must be between 1 and 2**31-1"), name);
    }
    return (int)v;
}

// An array of count items of size bytes, or MemoryError: on a 32-bit MCU
// count * size can wrap around to a small allocation.
static void *new_array(size_t count, size_t size) {
    if (count > SIZE_MAX / size) {
        mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("array size exceeds the address space"));
    }
    return m_malloc(count * size);
}

// ---- buffers held across calls ---------------------------------------------
// MicroPython has no lock on exported buffers: a bytearray can be resized,
// which frees the memory a pointer taken earlier still points at.  A Model
// keeps the object that owns its weights and checks before each use that
// the buffer has not moved (held_check).  A writable memoryview is refused:
// resizing its bytearray frees what the view points at, and nothing tells
// the view.  A memory-mapped file stays mapped while the module uses it.

#if defined(UNIX)
typedef struct _llm_mapping_t {
    mp_obj_base_t base;
    void *addr;
    size_t len;
    struct _llm_mapping_t *next;
} llm_mapping_t;

// The live mappings.  Static memory is not scanned by the unix GC, so being
// listed here does not keep a mapping alive.
static llm_mapping_t *live_mappings;

// The mapping that [buf, buf + len) lies in, if any: a memoryview of a
// MappedFile, or a slice of one, does not keep the MappedFile alive.
static mp_obj_t mapping_containing(const void *buf, size_t len) {
    for (llm_mapping_t *m = live_mappings; m != NULL; m = m->next) {
        uintptr_t start = (uintptr_t)m->addr, p = (uintptr_t)buf;
        if (p >= start && p - start <= m->len && len <= m->len - (p - start)) {
            return MP_OBJ_FROM_PTR(m);
        }
    }
    return MP_OBJ_NULL;
}
#else
static mp_obj_t mapping_containing(const void *buf, size_t len) {
    (void)buf;
    (void)len;
    return MP_OBJ_NULL;
}
#endif

typedef struct {
    mp_obj_t obj;       // owns the buffer; kept alive
    mp_obj_t mapping;   // the file mapping the buffer lies in, kept mapped, or NULL
    const uint8_t *buf;
    size_t len;
} llm_held_t;

static bool is_writable(mp_obj_t obj) {
    mp_buffer_info_t info;
    return mp_get_buffer(obj, &info, MP_BUFFER_WRITE);
}

static void hold(llm_held_t *h, mp_obj_t obj, qstr name) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(obj, &info, MP_BUFFER_READ);
    if (mp_obj_get_type(obj)->name == MP_QSTR_memoryview && is_writable(obj)) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("%q: a writable memoryview can outlive its memory; pass the object itself"), name);
    }
    h->obj = obj;
    h->buf = info.buf;
    h->len = info.len;
    h->mapping = mapping_containing(info.buf, info.len);
}

static void held_check(const llm_held_t *h, qstr name) {
    mp_buffer_info_t info;
    if (!mp_get_buffer(h->obj, &info, MP_BUFFER_READ) || info.buf != h->buf || info.len != h->len) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("%q: the buffer was resized or moved after it was handed over"), name);
    }
}

// ---- kernels --------------------------------------------------------------

// matmul(out, x, w): out[d] = w[d][n] @ x[n], with n = len(x), d = len(out).
static mp_obj_t llm_matmul(mp_obj_t out_in, mp_obj_t x_in, mp_obj_t w_in) {
    size_t d, n, nw;
    float *out = get_floats(out_in, &d, MP_BUFFER_WRITE, MP_QSTR_out);
    float *x = get_floats(x_in, &n, MP_BUFFER_READ, MP_QSTR_x);
    float *w = get_floats(w_in, &nw, MP_BUFFER_READ, MP_QSTR_w);
    if (n == 0 || d == 0 || n > 0x7fffffff / d || nw != n * d) {
        mp_raise_ValueError(MP_ERROR_TEXT("matmul: w must hold len(out) * len(x) floats"));
    }
    llm_matmul_f32(out, x, w, (int)n, (int)d);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(llm_matmul_obj, llm_matmul);

static int check_group(size_t n, mp_obj_t gs_in) {
    int gs = get_positive(gs_in, MP_QSTR_group_size);
    if (n == 0 || n % (size_t)gs != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("group_size must divide the vector length"));
    }
    return gs;
}

// quantize(xq, xs, x, group_size): int8 codes and float scales of x.
static mp_obj_t llm_quantize(size_t n_args, const mp_obj_t *args) {
    size_t nq, ns, n;
    int8_t *xq = get_buf(args[0], &nq, MP_BUFFER_WRITE);
    float *xs = get_floats(args[1], &ns, MP_BUFFER_WRITE, MP_QSTR_xs);
    float *x = get_floats(args[2], &n, MP_BUFFER_READ, MP_QSTR_x);
    int gs = check_group(n, args[3]);
    need_count(nq, n, MP_QSTR_xq);
    need_count(ns, n / gs, MP_QSTR_xs);
    llm_quantize_q8(xq, xs, x, (int)n, gs);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_quantize_obj, 4, 4, llm_quantize);

// matmul_q8(out, xq, xs, w, ws, group_size): int8 matmul, n = len(xq);
// ws holds W's scales as IEEE halves.
static mp_obj_t llm_matmul_q8_fn(size_t n_args, const mp_obj_t *args) {
    size_t d, n, ns, nw, nws;
    float *out = get_floats(args[0], &d, MP_BUFFER_WRITE, MP_QSTR_out);
    int8_t *xq = get_buf(args[1], &n, MP_BUFFER_READ);
    float *xs = get_floats(args[2], &ns, MP_BUFFER_READ, MP_QSTR_xs);
    int8_t *w = get_buf(args[3], &nw, MP_BUFFER_READ);
    uint16_t *ws = get_buf(args[4], &nws, MP_BUFFER_READ);
    if (((uintptr_t)ws & 1) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("ws: buffer not 2-byte aligned"));
    }
    nws /= 2;
    int gs = check_group(n, args[5]);
    if (d == 0 || n > 0x7fffffff / d || nw != n * d) {
        mp_raise_ValueError(MP_ERROR_TEXT("matmul_q8: w must hold len(out) * len(xq) int8"));
    }
    need_count(ns, n / gs, MP_QSTR_xs);
    need_count(nws, d * (n / gs), MP_QSTR_ws);
    llm_matmul_q8(out, xq, xs, w, ws, (int)n, (int)d, gs);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_matmul_q8_obj, 6, 6, llm_matmul_q8_fn);

// rmsnorm(out, x, weight)
static mp_obj_t llm_rmsnorm_fn(mp_obj_t out_in, mp_obj_t x_in, mp_obj_t w_in) {
    size_t no, n, nw;
    float *out = get_floats(out_in, &no, MP_BUFFER_WRITE, MP_QSTR_out);
    float *x = get_floats(x_in, &n, MP_BUFFER_READ, MP_QSTR_x);
    float *w = get_floats(w_in, &nw, MP_BUFFER_READ, MP_QSTR_weight);
    if (n == 0 || no != n || nw != n) {
        mp_raise_ValueError(MP_ERROR_TEXT("rmsnorm: out, x and weight must have the same non-zero length"));
    }
    llm_rmsnorm(out, x, w, (int)n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(llm_rmsnorm_obj, llm_rmsnorm_fn);

// softmax(x[, n]): in place over the first n items (default all).
static mp_obj_t llm_softmax_fn(size_t n_args, const mp_obj_t *args) {
    size_t n;
    float *x = get_floats(args[0], &n, MP_BUFFER_WRITE, MP_QSTR_x);
    if (n_args > 1) {
        size_t want = (size_t)get_positive(args[1], MP_QSTR_n);
        need_count(n, want, MP_QSTR_x);
        n = want;
    }
    if (n == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("softmax: empty vector"));
    }
    llm_softmax(x, (int)n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_softmax_obj, 1, 2, llm_softmax_fn);

// quantize_fast(xq, xs, x, group_size): llm_quantize_q8_fast, which must
// give quantize()'s codes and scales.
static mp_obj_t llm_quantize_fast(size_t n_args, const mp_obj_t *args) {
    size_t nq, ns, n;
    int8_t *xq = get_buf(args[0], &nq, MP_BUFFER_WRITE);
    float *xs = get_floats(args[1], &ns, MP_BUFFER_WRITE, MP_QSTR_xs);
    float *x = get_floats(args[2], &n, MP_BUFFER_READ, MP_QSTR_x);
    int gs = check_group(n, args[3]);
    need_count(nq, n, MP_QSTR_xq);
    need_count(ns, n / gs, MP_QSTR_xs);
    llm_quantize_q8_fast(xq, xs, x, (int)n, gs);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_quantize_fast_obj, 4, 4, llm_quantize_fast);

// exp_fast(x): x[i] = e**x[i] in place, the int8 paths' exponential.
static mp_obj_t llm_exp_fast_fn(mp_obj_t x_in) {
    size_t n;
    float *x = get_floats(x_in, &n, MP_BUFFER_WRITE, MP_QSTR_x);
    if (n > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("exp_fast: more than 2**31-1 items"));
    }
    llm_exp_fast(x, (int)n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(llm_exp_fast_obj, llm_exp_fast_fn);

// attention_q8(out, att, q, qs, k, ks, v, vs, pos[, heads]): heads query
// heads (default 1) over one KV head's block of an int8 KV cache (keys and
// values transposed, [head_size][ctx]), with ctx = len(ks), head_size =
// len(out) / heads = len(q) / heads, qs heads floats, att heads * ctx floats.
static mp_obj_t llm_attention_q8_fn(size_t n_args, const mp_obj_t *args) {
    size_t no, na, nq, nqs, nk, nks, nv, nvs;
    float *out = get_floats(args[0], &no, MP_BUFFER_WRITE, MP_QSTR_out);
    float *att = get_floats(args[1], &na, MP_BUFFER_WRITE, MP_QSTR_att);
    int8_t *q = get_buf(args[2], &nq, MP_BUFFER_READ);
    float *qs = get_floats(args[3], &nqs, MP_BUFFER_READ, MP_QSTR_qs);
    int8_t *k = get_buf(args[4], &nk, MP_BUFFER_READ);
    float *ks = get_floats(args[5], &nks, MP_BUFFER_READ, MP_QSTR_ks);
    int8_t *v = get_buf(args[6], &nv, MP_BUFFER_READ);
    float *vs = get_floats(args[7], &nvs, MP_BUFFER_READ, MP_QSTR_vs);
    mp_int_t pos = mp_obj_get_int(args[8]);
    size_t heads = n_args > 9 ? (size_t)get_positive(args[9], MP_QSTR_heads) : 1;
    size_t hs = no / heads;
    if (no == 0 || no % heads != 0 || hs == 0 || hs > LLM_MAX_CACHE_HEAD || nq != no) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention_q8: out and q must hold heads * head size items, head size 1 to 256"));
    }
    size_t ctx = nks;
    if (ctx == 0 || ctx > 0x7fffffff / hs || ctx > 0x7fffffff / heads || pos < 0 || (size_t)pos >= ctx) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention_q8: need 0 <= pos < len(ks) <= (2**31-1) / head size"));
    }
    // The kernel may write scores up to ctx (SIMD chunks past pos).
    need_count(na, heads * ctx, MP_QSTR_att);
    need_count(nqs, heads, MP_QSTR_qs);
    need_count(nk, hs * ctx, MP_QSTR_k);
    need_count(nv, hs * ctx, MP_QSTR_v);
    need_count(nvs, ctx, MP_QSTR_vs);
    llm_attention_q8i(out, att, (int)ctx, q, qs, (int)heads, k, ks, v, vs, (int)ctx, (int)pos, (int)hs);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_attention_q8_obj, 9, 10, llm_attention_q8_fn);

static mp_obj_t llm_argmax_fn(mp_obj_t x_in) {
    size_t n;
    float *x = get_floats(x_in, &n, MP_BUFFER_READ, MP_QSTR_x);
    if (n == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("argmax: empty vector"));
    }
    return MP_OBJ_NEW_SMALL_INT(llm_argmax(x, (int)n));
}
static MP_DEFINE_CONST_FUN_OBJ_1(llm_argmax_obj, llm_argmax_fn);

// swiglu(hb, hb2): hb = silu(hb) * hb2
static mp_obj_t llm_swiglu_fn(mp_obj_t hb_in, mp_obj_t hb2_in) {
    size_t n, n2;
    float *hb = get_floats(hb_in, &n, MP_BUFFER_WRITE, MP_QSTR_hb);
    float *hb2 = get_floats(hb2_in, &n2, MP_BUFFER_READ, MP_QSTR_hb2);
    if (n == 0 || n != n2) {
        mp_raise_ValueError(MP_ERROR_TEXT("swiglu: hb and hb2 must have the same non-zero length"));
    }
    llm_swiglu(hb, hb2, (int)n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(llm_swiglu_obj, llm_swiglu_fn);

static int check_head_size(mp_obj_t obj) {
    int hs = get_positive(obj, MP_QSTR_head_size);
    if (hs % 2 != 0 || hs > LLM_MAX_HEAD_SIZE) {
        mp_raise_ValueError(MP_ERROR_TEXT("head_size must be even and at most 256"));
    }
    return hs;
}

// rope(vec, head_size, pos): rotate every head of vec in place for position pos.
static mp_obj_t llm_rope_fn(mp_obj_t vec_in, mp_obj_t hs_in, mp_obj_t pos_in) {
    size_t n;
    float *vec = get_floats(vec_in, &n, MP_BUFFER_WRITE, MP_QSTR_vec);
    int hs = check_head_size(hs_in);
    mp_int_t pos = mp_obj_get_int(pos_in);
    if (pos < 0 || pos > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("pos must be between 0 and 2**31-1"));
    }
    if (n == 0 || n % (size_t)hs != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("rope: len(vec) must be a multiple of head_size"));
    }
    float freq[LLM_MAX_HEAD_SIZE / 2], fcos[LLM_MAX_HEAD_SIZE / 2], fsin[LLM_MAX_HEAD_SIZE / 2];
    llm_rope_freqs(freq, hs);
    llm_rope_table(fcos, fsin, freq, hs, (int)pos);
    llm_rope_apply(vec, fcos, fsin, (int)n, hs);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(llm_rope_obj, llm_rope_fn);

// attention(out, att, q, k, v, pos, stride): one head over a float KV cache.
// head_size = len(out) = len(q); k and v hold positions 0..pos, stride apart.
static mp_obj_t llm_attention_fn(size_t n_args, const mp_obj_t *args) {
    size_t hs, natt, nq, nk, nv;
    float *out = get_floats(args[0], &hs, MP_BUFFER_WRITE, MP_QSTR_out);
    float *att = get_floats(args[1], &natt, MP_BUFFER_WRITE, MP_QSTR_att);
    float *q = get_floats(args[2], &nq, MP_BUFFER_READ, MP_QSTR_q);
    float *k = get_floats(args[3], &nk, MP_BUFFER_READ, MP_QSTR_k);
    float *v = get_floats(args[4], &nv, MP_BUFFER_READ, MP_QSTR_v);
    mp_int_t pos = mp_obj_get_int(args[5]);
    mp_int_t stride = mp_obj_get_int(args[6]);
    if (hs == 0 || nq != hs) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention: out and q must have the same non-zero length"));
    }
    if (pos < 0 || pos > 0x7fffffff || stride < (mp_int_t)hs || stride > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention: need pos >= 0 and stride >= head size"));
    }
    need_count(natt, (size_t)pos + 1, MP_QSTR_att);
    uint64_t span = (uint64_t)pos * (uint64_t)stride + hs;
    if (span > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention: pos * stride + head size exceeds 2**31-1"));
    }
    need_count(nk, (size_t)span, MP_QSTR_k);
    need_count(nv, (size_t)span, MP_QSTR_v);
    llm_attention_f32(out, att, q, k, (int)stride, 1, v, (int)stride, (int)pos, (int)hs);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_attention_obj, 7, 7, llm_attention_fn);

// ---- sampling -------------------------------------------------------------

static uint64_t *get_rng(mp_obj_t obj) {
    size_t len;
    uint64_t *state = get_buf(obj, &len, MP_BUFFER_WRITE);
    if (len != 8 || ((uintptr_t)state & 7) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("rng must be an aligned 8-byte buffer"));
    }
    return state;
}

// random_u32(rng): next value of llama2.c's xorshift generator.
static mp_obj_t llm_random_u32_fn(mp_obj_t rng_in) {
    return mp_obj_new_int_from_uint(llm_random_u32(get_rng(rng_in)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(llm_random_u32_obj, llm_random_u32_fn);

static float get_temperature_topp(mp_obj_t t_in, mp_obj_t p_in, float *topp) {
    float t = (float)mp_obj_get_float(t_in);
    *topp = (float)mp_obj_get_float(p_in);
    if (!(t >= 0.0f) || !(*topp == *topp)) {
        mp_raise_ValueError(MP_ERROR_TEXT("temperature must be >= 0 and top_p a number"));
    }
    return t;
}

// sample(logits, temperature, top_p, rng, scratch): llama2.c's sample();
// logits are overwritten, scratch holds len(logits) int32.
static mp_obj_t llm_sample_fn(size_t n_args, const mp_obj_t *args) {
    size_t n, ns;
    float *logits = get_floats(args[0], &n, MP_BUFFER_WRITE, MP_QSTR_logits);
    float topp;
    float t = get_temperature_topp(args[1], args[2], &topp);
    uint64_t *state = get_rng(args[3]);
    int32_t *scratch = (int32_t *)get_floats(args[4], &ns, MP_BUFFER_WRITE, MP_QSTR_scratch);
    if (n == 0 || n > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("sample: empty logits"));
    }
    need_count(ns, n, MP_QSTR_scratch);
    return MP_OBJ_NEW_SMALL_INT(llm_sample(logits, (int)n, t, topp, state, scratch));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_sample_obj, 5, 5, llm_sample_fn);

// ---- the model ------------------------------------------------------------

typedef struct {
    mp_obj_base_t base;
    llm_held_t weights; // the weight buffer (bytes, bytearray, mapped file, ROMFS)
    llm_model_t m;
    int32_t *scratch;   // top-p candidates
} llm_model_obj_t;

// Parse and check the config tuple (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size, seq_len).
static void get_config(mp_obj_t cfg_in, llm_config_t *c) {
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(cfg_in, &n, &items);
    if (n != 7) {
        mp_raise_ValueError(MP_ERROR_TEXT("config needs 7 ints"));
    }
    LLM_QSTR_TABLE qstr names[7] = {
        MP_QSTR_dim, MP_QSTR_hidden_dim, MP_QSTR_n_layers, MP_QSTR_n_heads,
        MP_QSTR_n_kv_heads, MP_QSTR_vocab_size, MP_QSTR_seq_len,
    };
    int v[7];
    for (size_t i = 0; i < 7; i++) {
        v[i] = get_positive(items[i], names[i]);
        if (v[i] > (1 << 24)) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q is too large"), names[i]);
        }
    }
    c->dim = v[0];
    c->hidden_dim = v[1];
    c->n_layers = v[2];
    c->n_heads = v[3];
    c->n_kv_heads = v[4];
    c->vocab_size = v[5];
    c->seq_len = v[6];
    if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0 || c->dim / c->n_heads > LLM_MAX_CACHE_HEAD) {
        mp_raise_ValueError(MP_ERROR_TEXT("dim must be n_heads times an even head size of at most 256"));
    }
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("n_heads must be a multiple of n_kv_heads"));
    }
    // Every matrix must stay indexable with int.
    uint64_t big = (uint64_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
    if (big * (uint64_t)(c->hidden_dim > c->vocab_size ? c->hidden_dim : c->vocab_size) > 0x7fffffff
        || (uint64_t)c->n_layers * c->seq_len * c->dim > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("config dimensions are too large"));
    }
}

// Check one tensor of the table against the weight buffer and fill *t.
// entry = (offset, type, group_size, scales_offset).
static void get_tensor(const mp_buffer_info_t *wb, const int32_t *entry, uint32_t rows, uint32_t cols,
    bool float_only, llm_tensor_t *t, qstr name, int layer) {
    const uint8_t *base = wb->buf;
    int32_t offset = entry[0], type = entry[1], gs = entry[2], soffset = entry[3];
    uint64_t count = (uint64_t)rows * cols;
    const char *problem = NULL;
    if (offset < 0 || (type != LLM_F32 && type != LLM_Q8) || (float_only && type != LLM_F32)) {
        problem = "bad offset or type";
    } else if (type == LLM_F32) {
        if (((uintptr_t)(base + offset) & 3) != 0) {
            problem = "float data not 4-byte aligned";
        } else if ((uint64_t)offset + count * 4 > wb->len) {
            problem = "data runs past the end of the weights";
        }
        t->scales = NULL;
        t->group_size = 0;
    } else {
        if (gs <= 0 || cols % (uint32_t)gs != 0) {
            problem = "group size does not divide the row length";
        } else if (soffset < 0 || ((uintptr_t)(base + soffset) & 1) != 0) {
            problem = "scales not 2-byte aligned";
        } else if ((uint64_t)offset + count > wb->len
                   || (uint64_t)soffset + count / (uint32_t)gs * 2 > wb->len) {
            problem = "data runs past the end of the weights";
        }
        t->scales = (const uint16_t *)(base + soffset);
        t->group_size = gs;
    }
    if (problem) {
        if (layer >= 0) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tensor %q of layer %d: %s"), name, layer, problem);
        }
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tensor %q: %s"), name, problem);
    }
    t->data = base + offset;
    t->type = type;
}

static const float *get_norm(const mp_buffer_info_t *wb, const int32_t *entry, int dim, qstr name, int layer) {
    llm_tensor_t t;
    get_tensor(wb, entry, 1, (uint32_t)dim, true, &t, name, layer);
    return t.data;
}

// Model(weights, table, config, ctx, kv_int8)
// weights: any buffer holding every tensor; table: int32 buffer of
// (offset, type, group_size, scales_offset) for embedding, then per layer
// rms_att wq wk wv wo rms_ffn w1 w2 w3, then rms_final and classifier.
static mp_obj_t llm_model_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 5, 5, false);
    llm_model_obj_t *self = mp_obj_malloc(llm_model_obj_t, type);
    memset(&self->m, 0, sizeof(self->m));
    self->scratch = NULL;
    llm_model_t *m = &self->m;
    llm_config_t *c = &m->cfg;
    get_config(args[2], c);
    mp_int_t ctx = mp_obj_get_int(args[3]);
    if (ctx <= 0 || ctx > c->seq_len) {
        mp_raise_ValueError(MP_ERROR_TEXT("ctx must be between 1 and seq_len"));
    }
    m->ctx = (int)ctx;
    m->kv_q8 = mp_obj_is_true(args[4]);

    hold(&self->weights, args[0], MP_QSTR_weights);
    mp_buffer_info_t wb = { .buf = (void *)self->weights.buf, .len = self->weights.len };
    size_t table_len;
    const int32_t *table = (const int32_t *)get_floats(args[1], &table_len, MP_BUFFER_READ, MP_QSTR_table);
    size_t entries = 3 + 9 * (size_t)c->n_layers;
    if (table_len != entries * 4) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("table needs %u int32 for %d layers"),
            (unsigned)(entries * 4), c->n_layers);
    }

    uint32_t dim = (uint32_t)c->dim, hidden = (uint32_t)c->hidden_dim;
    uint32_t kvd = dim / (uint32_t)c->n_heads * (uint32_t)c->n_kv_heads;
    get_tensor(&wb, table, (uint32_t)c->vocab_size, dim, false, &m->embedding, MP_QSTR_embedding, -1);
    m->layers = new_array((size_t)c->n_layers, sizeof(llm_layer_t));
    LLM_QSTR_TABLE qstr nm[9] = {
        MP_QSTR_rms_att, MP_QSTR_wq, MP_QSTR_wk, MP_QSTR_wv, MP_QSTR_wo,
        MP_QSTR_rms_ffn, MP_QSTR_w1, MP_QSTR_w2, MP_QSTR_w3,
    };
    for (int l = 0; l < c->n_layers; l++) {
        const int32_t *e = table + 4 * (1 + 9 * l);
        llm_layer_t *w = &m->layers[l];
        w->rms_att = get_norm(&wb, e, c->dim, nm[0], l);
        get_tensor(&wb, e + 4, dim, dim, false, &w->wq, nm[1], l);
        get_tensor(&wb, e + 8, kvd, dim, false, &w->wk, nm[2], l);
        get_tensor(&wb, e + 12, kvd, dim, false, &w->wv, nm[3], l);
        get_tensor(&wb, e + 16, dim, dim, false, &w->wo, nm[4], l);
        w->rms_ffn = get_norm(&wb, e + 20, c->dim, nm[5], l);
        get_tensor(&wb, e + 24, hidden, dim, false, &w->w1, nm[6], l);
        get_tensor(&wb, e + 28, dim, hidden, false, &w->w2, nm[7], l);
        get_tensor(&wb, e + 32, hidden, dim, false, &w->w3, nm[8], l);
    }
    const int32_t *tail = table + 4 * (1 + 9 * c->n_layers);
    m->rms_final = get_norm(&wb, tail, c->dim, MP_QSTR_rms_final, -1);
    get_tensor(&wb, tail + 4, (uint32_t)c->vocab_size, dim, false, &m->classifier, MP_QSTR_classifier, -1);

    // Allocation last, after every check: a bad file costs no memory.
    uint64_t state_bytes = llm_state_bytes(c, m->ctx), kv_bytes = llm_kv_bytes(c, m->ctx, m->kv_q8);
    if (state_bytes + kv_bytes > SIZE_MAX / 2) {
        mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("the KV cache and activations exceed the address space"));
    }
    void *state = m_malloc((size_t)state_bytes);
    void *kv = m_malloc((size_t)kv_bytes);
    self->scratch = new_array((size_t)c->vocab_size, sizeof(int32_t));
    llm_model_bind_state(m, state, kv);
    memset(kv, 0, (size_t)kv_bytes);
    return MP_OBJ_FROM_PTR(self);
}

static int check_range(mp_obj_t obj, int limit, qstr name) {
    mp_int_t v = mp_obj_get_int(obj);
    if (v < 0 || v >= limit) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q %d out of range 0..%d"), name, (int)v, limit - 1);
    }
    return (int)v;
}

// forward(token, pos): logits for token at position pos.
static mp_obj_t llm_model_forward(mp_obj_t self_in, mp_obj_t token_in, mp_obj_t pos_in) {
    llm_model_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int token = check_range(token_in, self->m.cfg.vocab_size, MP_QSTR_token);
    int pos = check_range(pos_in, self->m.ctx, MP_QSTR_pos);
    held_check(&self->weights, MP_QSTR_weights);
    llm_forward(&self->m, token, pos);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(llm_model_forward_obj, llm_model_forward);

// sample(temperature, top_p, rng): next token from the current logits
// (which sampling overwrites, as llama2.c does).
static mp_obj_t llm_model_sample(size_t n_args, const mp_obj_t *args) {
    llm_model_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    float topp;
    float t = get_temperature_topp(args[1], args[2], &topp);
    uint64_t *state = get_rng(args[3]);
    return MP_OBJ_NEW_SMALL_INT(llm_sample(self->m.logits, self->m.cfg.vocab_size, t, topp, state, self->scratch));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_model_sample_obj, 4, 4, llm_model_sample);

// logits(): a float memoryview of the logits of the last forward().
static mp_obj_t llm_model_logits(mp_obj_t self_in) {
    llm_model_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return mp_obj_new_memoryview('f' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW, self->m.cfg.vocab_size, self->m.logits);
}
static MP_DEFINE_CONST_FUN_OBJ_1(llm_model_logits_obj, llm_model_logits);

// The constant tables and types below are for firmware; a native .mpy
// builds them at import (usermod/natmod/llm_natmod.c).
#if !MICROPY_ENABLE_DYNRUNTIME
static const mp_rom_map_elem_t llm_model_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_forward), MP_ROM_PTR(&llm_model_forward_obj) },
    { MP_ROM_QSTR(MP_QSTR_sample), MP_ROM_PTR(&llm_model_sample_obj) },
    { MP_ROM_QSTR(MP_QSTR_logits), MP_ROM_PTR(&llm_model_logits_obj) },
};
static MP_DEFINE_CONST_DICT(llm_model_locals_dict, llm_model_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    llm_model_type,
    MP_QSTR_Model,
    MP_TYPE_FLAG_NONE,
    make_new, llm_model_make_new,
    locals_dict, &llm_model_locals_dict
    );
#endif

// A byte count as an int; past what mp_uint_t holds (a 32-bit MCU asked about
// a model of gigabytes), as a float, which is still a fine "too big".
static mp_obj_t new_size(uint64_t bytes) {
    if (bytes <= (uint64_t)(mp_uint_t)-1) {
        return mp_obj_new_int_from_uint((mp_uint_t)bytes);
    }
    return mp_obj_new_float((mp_float_t)bytes);
}

// memory(config, ctx, kv_int8): (activation bytes, KV cache bytes) a Model
// allocates on the heap.
static mp_obj_t llm_memory_fn(mp_obj_t cfg_in, mp_obj_t ctx_in, mp_obj_t kv_in) {
    llm_config_t c;
    get_config(cfg_in, &c);
    int ctx = get_positive(ctx_in, MP_QSTR_ctx);
    if (ctx > c.seq_len) {
        mp_raise_ValueError(MP_ERROR_TEXT("ctx must be between 1 and seq_len"));
    }
    mp_obj_t sizes[2] = {
        new_size(llm_state_bytes(&c, ctx) + (uint64_t)c.vocab_size * 4),
        new_size(llm_kv_bytes(&c, ctx, mp_obj_is_true(kv_in))),
    };
    return mp_obj_new_tuple(2, sizes);
}
static MP_DEFINE_CONST_FUN_OBJ_3(llm_memory_obj, llm_memory_fn);

// ---- the tokenizer --------------------------------------------------------

typedef struct {
    mp_obj_base_t base;
    mp_obj_t data;        // keeps read-only tokenizer bytes alive (NULL: copied)
    mp_obj_t mapping;     // keeps a mapped file mapped, or NULL
    const uint8_t *buf;
    uint32_t *offsets;    // [vocab] record offsets
    uint32_t *sorted;     // [vocab] ids in piece order
    int vocab;
    int max_len;          // longest piece
    bool index_in_heap;
} llm_tok_obj_t;

// Tokenizer(data, vocab_size, start=0, size=-1, index=-1): the raw
// tokenizer.bin bytes are data[start:start + size] (size -1: to the end).
// index >= 0 is the offset in data of a stored index (uint32 offsets into the
// tokenizer bytes, then uint32 sorted ids), checked and used in place;
// otherwise the index is built on the heap.
//
// Piece lengths and the index are checked once and then read again on every
// call, so they must not change: read-only data (bytes, a MappedFile, a
// ROMFS file) is used in place; writable data (a bytearray, an array, a
// memoryview of them) is copied, with its stored index, into memory the
// tokenizer owns.
static mp_obj_t llm_tok_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 2, 5, false);
    size_t total;
    const uint8_t *all = get_buf(args[0], &total, MP_BUFFER_READ);
    int vocab = get_positive(args[1], MP_QSTR_vocab_size);
    mp_int_t start = n_args > 2 ? mp_obj_get_int(args[2]) : 0;
    mp_int_t size = n_args > 3 ? mp_obj_get_int(args[3]) : -1;
    mp_int_t index = n_args > 4 ? mp_obj_get_int(args[4]) : -1;
    if (start < 0 || (size_t)start > total || size < -1 || (size >= 0 && (size_t)size > total - (size_t)start)) {
        mp_raise_ValueError(MP_ERROR_TEXT("tokenizer: start and size outside the data"));
    }
    const uint8_t *buf = all + start;
    size_t len = size >= 0 ? (size_t)size : total - (size_t)start;
    if (vocab < 3 || (size_t)vocab > len / 8) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("tokenizer: %d tokens cannot fit in %u bytes"), vocab, (unsigned)len);
    }
    const uint32_t *stored = NULL;
    if (index >= 0) {
        // vocab <= len / 8, so vocab * 8 cannot wrap.
        if ((size_t)index > total || total - (size_t)index < (size_t)vocab * 8 || ((uintptr_t)(all + index) & 3) != 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("tokenizer: index outside the data or not 4-byte aligned"));
        }
        stored = (const uint32_t *)(all + index);
    }
    llm_tok_obj_t *self = mp_obj_malloc(llm_tok_obj_t, type);
    self->vocab = vocab;
    self->data = MP_OBJ_NULL;
    self->mapping = MP_OBJ_NULL;
    bool copy = is_writable(args[0]);
    if (copy) {
        uint8_t *own = new_array(len, 1);
        memcpy(own, buf, len);
        buf = own;
    } else {
        self->data = args[0];
        self->mapping = mapping_containing(buf, len);
    }
    self->buf = buf;
    int bad, err;
    self->index_in_heap = stored == NULL || copy;
    if (stored != NULL) {
        if (copy) {
            self->offsets = new_array((size_t)vocab * 2, sizeof(uint32_t));
            memcpy(self->offsets, stored, (size_t)vocab * 8);
        } else {
            self->offsets = (uint32_t *)stored;
        }
        self->sorted = self->offsets + vocab;
        err = llm_tok_check_index(buf, len, vocab, self->offsets, self->sorted, &bad, &self->max_len);
    } else {
        self->offsets = new_array((size_t)vocab, sizeof(uint32_t));
        err = llm_tok_index(buf, len, vocab, self->offsets, &bad, &self->max_len);
        if (err == LLM_TOK_OK) {
            self->sorted = new_array((size_t)vocab, sizeof(uint32_t));
            llm_tok_sort(buf, self->offsets, vocab, self->sorted);
        }
    }
    if (err == LLM_TOK_TRUNCATED) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tokenizer truncated at token %d of %d"), bad, vocab);
    } else if (err == LLM_TOK_BAD_LENGTH) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tokenizer: bad piece length at token %d"), bad);
    } else if (err != LLM_TOK_OK) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tokenizer: stored index is wrong at entry %d"), bad);
    }
    return MP_OBJ_FROM_PTR(self);
}

// llama2.c sees prompts and pieces as C strings: they end at the first NUL.
static size_t c_string_len(const uint8_t *s, size_t len) {
    const uint8_t *nul = memchr(s, 0, len);
    return nul ? (size_t)(nul - s) : len;
}

// encode(text, bos=True, eos=False) -> list of token ids
static mp_obj_t llm_tok_encode_fn(size_t n_args, const mp_obj_t *args) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    size_t len;
    const uint8_t *text = (const uint8_t *)mp_obj_str_get_data(args[1], &len);
    len = c_string_len(text, len);
    bool bos = n_args > 2 ? mp_obj_is_true(args[2]) : true;
    bool eos = n_args > 3 ? mp_obj_is_true(args[3]) : false;
    if (len > 0x7fff0000 || len > SIZE_MAX / sizeof(int32_t) - 3) {
        mp_raise_ValueError(MP_ERROR_TEXT("text too long"));
    }
    int32_t *tokens = new_array(len + 3, sizeof(int32_t));
    uint8_t *pair = m_new(uint8_t, 2 * (size_t)self->max_len + 1);  // max_len <= 0xffff
    int n = llm_tok_encode(self->buf, self->offsets, self->sorted, self->vocab,
        text, (int)len, bos, eos, tokens, pair);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (int i = 0; i < n; i++) {
        mp_obj_list_append(list, MP_OBJ_NEW_SMALL_INT(tokens[i]));
    }
    m_del(uint8_t, pair, 2 * (size_t)self->max_len + 1);
    m_del(int32_t, tokens, len + 3);
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_tok_encode_obj, 2, 4, llm_tok_encode_fn);

// decode(prev, token) -> the bytes llama2.c prints for token after prev
static mp_obj_t llm_tok_decode_fn(mp_obj_t self_in, mp_obj_t prev_in, mp_obj_t id_in) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int prev = check_range(prev_in, self->vocab, MP_QSTR_prev);
    int id = check_range(id_in, self->vocab, MP_QSTR_token);
    uint8_t byte;
    int len;
    const uint8_t *s = llm_tok_decode(self->buf, self->offsets, prev, id, &byte, &len);
    return mp_obj_new_bytes(s, (size_t)len);
}
static MP_DEFINE_CONST_FUN_OBJ_3(llm_tok_decode_obj, llm_tok_decode_fn);

// piece(token) -> the token's raw piece
static mp_obj_t llm_tok_piece_fn(mp_obj_t self_in, mp_obj_t id_in) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int len;
    const uint8_t *s = llm_tok_piece(self->buf, self->offsets, check_range(id_in, self->vocab, MP_QSTR_token), &len);
    return mp_obj_new_bytes(s, (size_t)len);
}
static MP_DEFINE_CONST_FUN_OBJ_2(llm_tok_piece_obj, llm_tok_piece_fn);

// lookup(piece) -> token id or -1
static mp_obj_t llm_tok_lookup_fn(mp_obj_t self_in, mp_obj_t piece_in) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(self_in);
    size_t len;
    const uint8_t *s = (const uint8_t *)mp_obj_str_get_data(piece_in, &len);
    len = c_string_len(s, len);
    if (len > 0xffff) {
        return MP_OBJ_NEW_SMALL_INT(-1);
    }
    return MP_OBJ_NEW_SMALL_INT(llm_tok_lookup(self->buf, self->offsets, self->sorted, self->vocab, s, (int)len));
}
static MP_DEFINE_CONST_FUN_OBJ_2(llm_tok_lookup_obj, llm_tok_lookup_fn);

static void llm_tok_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    if (attr == MP_QSTR_vocab_size) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(self->vocab);
    } else if (attr == MP_QSTR_index_bytes) {
        // Heap bytes of the index; a stored index lives with the data.
        dest[0] = mp_obj_new_int_from_uint(self->index_in_heap ? (size_t)self->vocab * 8 : 0);
    } else {
        dest[1] = MP_OBJ_SENTINEL;  // continue lookup in locals_dict
    }
}

#if !MICROPY_ENABLE_DYNRUNTIME
static const mp_rom_map_elem_t llm_tok_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_encode), MP_ROM_PTR(&llm_tok_encode_obj) },
    { MP_ROM_QSTR(MP_QSTR_decode), MP_ROM_PTR(&llm_tok_decode_obj) },
    { MP_ROM_QSTR(MP_QSTR_piece), MP_ROM_PTR(&llm_tok_piece_obj) },
    { MP_ROM_QSTR(MP_QSTR_lookup), MP_ROM_PTR(&llm_tok_lookup_obj) },
};
static MP_DEFINE_CONST_DICT(llm_tok_locals_dict, llm_tok_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    llm_tok_type,
    MP_QSTR_Tokenizer,
    MP_TYPE_FLAG_NONE,
    make_new, llm_tok_make_new,
    attr, llm_tok_attr,
    locals_dict, &llm_tok_locals_dict
    );
#endif

// ---- read-only file mapping (unix firmware) -------------------------------
// Keeps host weights out of the heap, as ROMFS does on the chip.

#if defined(UNIX)
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// The mapping itself is a separate object that Python never sees: the GC
// finds its __del__ only when nothing, neither the MappedFile nor a Model or
// Tokenizer reading it (see hold() and mapping_containing()), refers to it.
// A __del__ on MappedFile itself could be called from Python to unmap the
// file under a model.
static mp_obj_t llm_mapping_del(mp_obj_t self_in) {
    llm_mapping_t *self = MP_OBJ_TO_PTR(self_in);
    for (llm_mapping_t **p = &live_mappings; *p != NULL; p = &(*p)->next) {
        if (*p == self) {
            *p = self->next;
            break;
        }
    }
    if (self->addr != NULL) {
        munmap(self->addr, self->len);
        self->addr = NULL;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(llm_mapping_del_obj, llm_mapping_del);

static const mp_rom_map_elem_t llm_mapping_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&llm_mapping_del_obj) },
};
static MP_DEFINE_CONST_DICT(llm_mapping_locals_dict, llm_mapping_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    llm_mapping_type,
    MP_QSTR_MappedFile,
    MP_TYPE_FLAG_NONE,
    locals_dict, &llm_mapping_locals_dict
    );

typedef struct {
    mp_obj_base_t base;
    llm_mapping_t *map;
} llm_mapped_obj_t;

static mp_obj_t llm_mapped_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, 1, false);
    const char *path = mp_obj_str_get_str(args[0]);
    // Allocated before the file is opened or mapped: a MemoryError here
    // leaks neither a descriptor nor a mapping.
    llm_mapped_obj_t *self = mp_obj_malloc(llm_mapped_obj_t, type);
    llm_mapping_t *map = mp_obj_malloc_with_finaliser(llm_mapping_t, &llm_mapping_type);
    map->addr = NULL;
    map->len = 0;
    map->next = NULL;
    self->map = map;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        mp_raise_OSError(errno);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        mp_raise_OSError(err);
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX / 2) {
        close(fd);
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s is empty"), path);
    }
    void *addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (addr == MAP_FAILED) {
        mp_raise_OSError(err);
    }
    map->addr = addr;
    map->len = (size_t)st.st_size;
    map->next = live_mappings;
    live_mappings = map;
    return MP_OBJ_FROM_PTR(self);
}

static mp_int_t llm_mapped_get_buffer(mp_obj_t self_in, mp_buffer_info_t *info, mp_uint_t flags) {
    llm_mapped_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (flags & MP_BUFFER_WRITE) {
        return 1;
    }
    info->buf = self->map->addr;
    info->len = self->map->len;
    info->typecode = 'B';
    return 0;
}

static mp_obj_t llm_mapped_len(mp_obj_t self_in) {
    llm_mapped_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return mp_obj_new_int_from_uint(self->map->len);
}
static MP_DEFINE_CONST_FUN_OBJ_1(llm_mapped_len_obj, llm_mapped_len);

static const mp_rom_map_elem_t llm_mapped_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_size), MP_ROM_PTR(&llm_mapped_len_obj) },
};
static MP_DEFINE_CONST_DICT(llm_mapped_locals_dict, llm_mapped_locals_dict_table);

// MappedFile(path): the file's bytes through the buffer protocol, read-only.
// The file stays mapped while this object, or a Model or Tokenizer over any
// part of its bytes (also through a memoryview), is alive.
static MP_DEFINE_CONST_OBJ_TYPE(
    llm_mapped_type,
    MP_QSTR_MappedFile,
    MP_TYPE_FLAG_NONE,
    make_new, llm_mapped_make_new,
    buffer, llm_mapped_get_buffer,
    locals_dict, &llm_mapped_locals_dict
    );
#endif

// threads([n]): the number of cores the kernels use (1 or 2); with n, ask for
// n and return what is in effect (1 where there is no second core).
static mp_obj_t llm_threads_fn(size_t n_args, const mp_obj_t *args) {
    if (n_args > 0) {
        mp_int_t n = mp_obj_get_int(args[0]);
        if (n < 1 || n > 2) {
            mp_raise_ValueError(MP_ERROR_TEXT("threads must be 1 or 2"));
        }
        return MP_OBJ_NEW_SMALL_INT(llm_parallel_set_threads((int)n));
    }
    return MP_OBJ_NEW_SMALL_INT(llm_parallel_threads());
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_threads_obj, 0, 1, llm_threads_fn);

// ---- module ---------------------------------------------------------------

#if !MICROPY_ENABLE_DYNRUNTIME

static const mp_rom_map_elem_t llm_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__llm) },
    { MP_ROM_QSTR(MP_QSTR_matmul), MP_ROM_PTR(&llm_matmul_obj) },
    { MP_ROM_QSTR(MP_QSTR_matmul_q8), MP_ROM_PTR(&llm_matmul_q8_obj) },
    { MP_ROM_QSTR(MP_QSTR_quantize), MP_ROM_PTR(&llm_quantize_obj) },
    { MP_ROM_QSTR(MP_QSTR_rmsnorm), MP_ROM_PTR(&llm_rmsnorm_obj) },
    { MP_ROM_QSTR(MP_QSTR_softmax), MP_ROM_PTR(&llm_softmax_obj) },
    { MP_ROM_QSTR(MP_QSTR_exp_fast), MP_ROM_PTR(&llm_exp_fast_obj) },
    { MP_ROM_QSTR(MP_QSTR_quantize_fast), MP_ROM_PTR(&llm_quantize_fast_obj) },
    { MP_ROM_QSTR(MP_QSTR_attention_q8), MP_ROM_PTR(&llm_attention_q8_obj) },
    { MP_ROM_QSTR(MP_QSTR_argmax), MP_ROM_PTR(&llm_argmax_obj) },
    { MP_ROM_QSTR(MP_QSTR_swiglu), MP_ROM_PTR(&llm_swiglu_obj) },
    { MP_ROM_QSTR(MP_QSTR_rope), MP_ROM_PTR(&llm_rope_obj) },
    { MP_ROM_QSTR(MP_QSTR_attention), MP_ROM_PTR(&llm_attention_obj) },
    { MP_ROM_QSTR(MP_QSTR_random_u32), MP_ROM_PTR(&llm_random_u32_obj) },
    { MP_ROM_QSTR(MP_QSTR_sample), MP_ROM_PTR(&llm_sample_obj) },
    { MP_ROM_QSTR(MP_QSTR_memory), MP_ROM_PTR(&llm_memory_obj) },
    { MP_ROM_QSTR(MP_QSTR_threads), MP_ROM_PTR(&llm_threads_obj) },
    { MP_ROM_QSTR(MP_QSTR_Model), MP_ROM_PTR(&llm_model_type) },
    { MP_ROM_QSTR(MP_QSTR_Tokenizer), MP_ROM_PTR(&llm_tok_type) },
    #if defined(UNIX)
    { MP_ROM_QSTR(MP_QSTR_MappedFile), MP_ROM_PTR(&llm_mapped_type) },
    #endif
};
static MP_DEFINE_CONST_DICT(llm_module_globals, llm_module_globals_table);

const mp_obj_module_t llm_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&llm_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__llm, llm_user_cmodule);
#endif
