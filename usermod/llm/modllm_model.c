// The Model type (the forward pass of transformer.c over weights in any
// buffer), and the functions that size and run it: memory(), threads().
#include <stddef.h>
#include <string.h>
#include "fileformat.h"
#include "matmul_q4.h"
#include "py/runtime.h"
#include "modllm.h"
#include "parallel.h"
#include "py/objarray.h"
#include "py/gc.h"
#include "sampler.h"
#include "transformer.h"

typedef struct {
    mp_obj_base_t base;
    llm_held_t weights; // the weight buffer (bytes, bytearray, mapped file, ROMFS)
    llm_held_t ram;     // tensors copied apart (load(place=...)), else obj NULL
    llm_model_t m;
    int32_t *scratch;   // top-p candidates
} llm_model_obj_t;

// A KV cache's type: one of fileformat.h's LLM_FILE_KV_TYPES, as an int
// (the Python layer maps llm.load's kv name to it through fileformat.py).
static llm_type_t get_kv_type(mp_obj_t type_in) {
    mp_int_t type = mp_obj_get_int(type_in);
    if (!llm_kv_type_ok(type)) {
        mp_raise_ValueError(MP_ERROR_TEXT("kv_type is not a KV cache type"));
    }
    return (llm_type_t)type;
}

// Parse and check the config tuple: the fields of fileformat.h's
// LLM_FILE_CONFIG, in its order (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size, seq_len), which llm_config_t's fields follow.
static void get_config(mp_obj_t cfg_in, llm_config_t *c) {
    enum { N_CONFIG = 0 LLM_FILE_CONFIG(LLM_COUNT_ITEM) };
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(cfg_in, &n, &items);
    if (n != N_CONFIG) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("config needs %d ints"), N_CONFIG);
    }
    LLM_QSTR_TABLE qstr names[N_CONFIG] = { LLM_FILE_CONFIG(LLM_QSTR_ITEM) };
    int v[N_CONFIG];
    for (size_t i = 0; i < N_CONFIG; i++) {
        v[i] = llm_get_positive(items[i], names[i]);
        if (v[i] > (1 << 24)) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q is too large"), names[i]);
        }
    }
    const int *field = v;
    #define LLM_SET_CONFIG(name) c->name = *field++;
    LLM_FILE_CONFIG(LLM_SET_CONFIG)
    #undef LLM_SET_CONFIG
    if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0 || c->dim / c->n_heads > LLM_MAX_CACHE_HEAD) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("dim must be n_heads times an even head size of at most %d"), LLM_MAX_CACHE_HEAD);
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

// The tensor table: ENTRY int32 per tensor; T_<name> is a layer tensor's
// place among its layer's N_LAYER_TENSORS entries.
#define LLM_LAYER_TENSOR_ENUM(name, rows, cols) T_##name,
enum { LLM_FILE_LAYER_TENSORS(LLM_LAYER_TENSOR_ENUM) N_LAYER_TENSORS };
enum { ENTRY = LLM_FILE_TABLE_ENTRY_SIZE / sizeof(int32_t) };

// The sizes a tensor's shape is given in (fileformat.h's LLM_FILE_* lists).
typedef struct {
    uint32_t one, dim, hidden_dim, kv_dim, vocab_size;
} dims_t;

// Check one tensor of the table against the weight buffer and fill *t.
// entry = (offset, type, group_size, scales_offset).
static void get_tensor(const mp_buffer_info_t *wb, const int32_t *entry, uint32_t rows, uint32_t cols,
    bool float_only, llm_tensor_t *t, qstr name, int layer) {
    const uint8_t *base = wb->buf;
    int32_t offset = entry[0], type = entry[1], gs = entry[2], soffset = entry[3];
    uint64_t count = (uint64_t)rows * cols;
    const char *problem = NULL;
    if (offset < 0 || (float_only && type != LLM_F32)) {
        problem = "bad offset or type";
    } else if (type == LLM_F32) {
        if (((uintptr_t)(base + offset) & 3) != 0) {
            problem = "float data not 4-byte aligned";
        } else if ((uint64_t)offset + count * 4 > wb->len) {
            problem = "data runs past the end of the weights";
        }
        t->scales = NULL;
        t->group_size = 0;
        t->scales_plain = 0;
    } else if (type == LLM_Q8 || type == LLM_Q4) {
        // Rows are padded to a multiple of gs (.llm version 2); 4-bit codes
        // take half a byte each, so their groups are even (version 3).
        if (type == LLM_Q4 && gs % 2 != 0) {
            problem = "4-bit group size not even";
        } else if (!llm_group_size_ok(cols, gs)) {
            problem = "group size neither divides the row length nor is a multiple of 16 within it";
        } else {
            count = (uint64_t)rows * llm_padded_cols(cols, (uint32_t)gs);
            uint64_t data_bytes = type == LLM_Q4 ? count / 2 : count;
            if (soffset < 0 || ((uintptr_t)(base + soffset) & 1) != 0) {
                problem = "scales not 2-byte aligned";
            } else if ((uint64_t)offset + data_bytes > wb->len
                       || (uint64_t)soffset + count / (uint32_t)gs * 2 > wb->len) {
                problem = "data runs past the end of the weights";
            }
        }
        t->scales = (const uint16_t *)(base + soffset);
        t->group_size = gs;
        // Once per tensor here, so that the S3's 4-bit matmul need not
        // check them per row (matmul_q4.h).  The weights buffer is held
        // by the model and not written after this.
        t->scales_plain = type == LLM_Q4 && !problem
            && llm_q4_scales_plain(t->scales, (size_t)(count / (uint32_t)gs));
    } else {
        problem = "bad offset or type";
    }
    if (problem) {
        if (layer >= 0) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tensor %q of layer %d: %s"), name, layer, problem);
        }
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tensor %q: %s"), name, problem);
    }
    t->data = base + offset;
    t->type = (llm_type_t)type;
}

// A shape of rows "one" is a norm's weights: float, read directly by the
// kernels.
#define LLM_IS_NORM(rows) (offsetof(dims_t, rows) == offsetof(dims_t, one))

// Model(weights, table, config, ctx, kv_type[, ram, parts])
// weights: any buffer holding every tensor; table: the .llm file's tensor
// table (fileformat.h), an int32 buffer of (offset, type, group_size,
// scales_offset) for the embedding, then per layer rms_att wq wk wv wo
// rms_ffn w1 w2 w3 (LLM_FILE_LAYER_TENSORS), then rms_final and classifier.
// kv_type: the KV cache's tensor type (fileformat.h: LLM_FILE_KV_TYPES).
// ram: a second buffer that holds some tensors instead (a copy in RAM
// while the rest stays in flash); parts says which, as LLM_PART_* bits, and
// their table entries' offsets are into it.
enum { LLM_PART_EMBEDDING = 1, LLM_PART_LAYERS = 2, LLM_PART_CLASSIFIER = 4 };

// The weights' buffer and, when llm.load copied a part of it into RAM, the
// copy (args[5]) with the mask of the parts it holds (args[6]).
static mp_int_t hold_buffers(llm_model_obj_t *self, size_t n_args, const mp_obj_t *args,
    mp_buffer_info_t *wb, mp_buffer_info_t *rb) {
    llm_hold(&self->weights, args[0], MP_QSTR_weights);
    wb->buf = (void *)self->weights.buf;
    wb->len = self->weights.len;
    *rb = *wb;
    if (n_args <= 5 || args[5] == mp_const_none) {
        return 0;
    }
    if (n_args < 7) {
        mp_raise_ValueError(MP_ERROR_TEXT("ram needs parts"));
    }
    mp_int_t parts = mp_obj_get_int(args[6]);
    if (parts <= 0 || parts > (LLM_PART_EMBEDDING | LLM_PART_LAYERS | LLM_PART_CLASSIFIER)) {
        mp_raise_ValueError(MP_ERROR_TEXT("parts must be a non-zero mask of 1, 2 and 4"));
    }
    llm_hold(&self->ram, args[5], MP_QSTR_ram);
    rb->buf = (void *)self->ram.buf;
    rb->len = self->ram.len;
    return parts;
}

// Every tensor of the table, checked against its buffer (the file's or the
// RAM copy's, by parts), into m's weights.
static void read_tensors(llm_model_t *m, mp_obj_t table_obj, const mp_buffer_info_t *wb,
    const mp_buffer_info_t *rb, mp_int_t parts) {
    const llm_config_t *c = &m->cfg;
    const mp_buffer_info_t *eb = (parts & LLM_PART_EMBEDDING) ? rb : wb;
    const mp_buffer_info_t *lb = (parts & LLM_PART_LAYERS) ? rb : wb;
    const mp_buffer_info_t *cb = (parts & LLM_PART_CLASSIFIER) ? rb : wb;
    size_t table_len;
    const int32_t *table = (const int32_t *)llm_get_floats(table_obj, &table_len, MP_BUFFER_READ, MP_QSTR_table);
    size_t want = (size_t)LLM_FILE_N_TENSORS(c->n_layers) * ENTRY;
    if (table_len != want) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("table needs %u int32 for %d layers"),
            (unsigned)want, c->n_layers);
    }

    uint32_t dim = (uint32_t)c->dim;
    dims_t d = { 1, dim, (uint32_t)c->hidden_dim, dim / (uint32_t)c->n_heads * (uint32_t)c->n_kv_heads,
        (uint32_t)c->vocab_size };
    const int32_t *e = table;  // the next entry
    llm_tensor_t t[N_LAYER_TENSORS];
    const mp_buffer_info_t *buf = eb;  // where the next tensor lies
    #define LLM_GET_TENSOR(name, rows, cols) \
        get_tensor(buf, e, d.rows, d.cols, LLM_IS_NORM(rows), &t[0], MP_QSTR_##name, -1);
    LLM_FILE_EMBEDDING(LLM_GET_TENSOR)
    m->embedding = t[0];
    e += ENTRY;
    m->layers = llm_new_array((size_t)c->n_layers, sizeof(llm_layer_t));
    LLM_QSTR_TABLE qstr nm[N_LAYER_TENSORS] = { LLM_FILE_LAYER_TENSORS(LLM_QSTR_ITEM) };
    for (int l = 0; l < c->n_layers; l++, e += N_LAYER_TENSORS * ENTRY) {
        #define LLM_GET_LAYER_TENSOR(name, rows, cols) \
            get_tensor(lb, e + ENTRY * T_##name, d.rows, d.cols, LLM_IS_NORM(rows), &t[T_##name], nm[T_##name], l);
        LLM_FILE_LAYER_TENSORS(LLM_GET_LAYER_TENSOR)
        #undef LLM_GET_LAYER_TENSOR
        llm_layer_t *w = &m->layers[l];
        w->rms_att = t[T_rms_att].data;
        w->wq = t[T_wq];
        w->wk = t[T_wk];
        w->wv = t[T_wv];
        w->wo = t[T_wo];
        w->rms_ffn = t[T_rms_ffn].data;
        w->w1 = t[T_w1];
        w->w2 = t[T_w2];
        w->w3 = t[T_w3];
    }
    buf = wb;
    LLM_FILE_RMS_FINAL(LLM_GET_TENSOR)
    m->rms_final = t[0].data;
    e += ENTRY;
    buf = cb;
    LLM_FILE_CLASSIFIER(LLM_GET_TENSOR)
    m->classifier = t[0];
    #undef LLM_GET_TENSOR
}

static mp_obj_t llm_model_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 5, 7, false);
    llm_model_obj_t *self = mp_obj_malloc(llm_model_obj_t, type);
    memset(&self->m, 0, sizeof(self->m));
    self->ram.obj = MP_OBJ_NULL;
    self->scratch = NULL;
    llm_model_t *m = &self->m;
    llm_config_t *c = &m->cfg;
    get_config(args[2], c);
    mp_int_t ctx = llm_get_word(args[3], MP_QSTR_ctx);
    if (ctx <= 0 || ctx > c->seq_len) {
        mp_raise_ValueError(MP_ERROR_TEXT("ctx must be between 1 and seq_len"));
    }
    m->ctx = (int)ctx;
    m->kv.type = get_kv_type(args[4]);
    mp_buffer_info_t wb, rb;
    mp_int_t parts = hold_buffers(self, n_args, args, &wb, &rb);
    read_tensors(m, args[1], &wb, &rb, parts);

    // Allocation last, after every check: a bad file costs no memory.
    uint64_t state_bytes = llm_state_bytes(c, m->ctx), kv_bytes = llm_model_kv_bytes(c, m->ctx, m->kv.type);
    if (state_bytes + kv_bytes > SIZE_MAX / 2) {
        mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("the KV cache and activations exceed the address space"));
    }
    // The biggest block first, while the heap's largest hole is still free
    // (llm.load's MemoryError tips are checked against heap_largest()).
    void *kv = m_malloc((size_t)kv_bytes);
    void *state = m_malloc((size_t)state_bytes);
    self->scratch = llm_new_array((size_t)c->vocab_size, sizeof(int32_t));
    llm_model_bind_state(m, state, kv);
    memset(kv, 0, (size_t)kv_bytes);
    return MP_OBJ_FROM_PTR(self);
}

// forward(token, pos): logits for token at position pos.
static mp_obj_t llm_model_forward(mp_obj_t self_in, mp_obj_t token_in, mp_obj_t pos_in) {
    llm_model_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int token = llm_check_range(token_in, self->m.cfg.vocab_size, MP_QSTR_token);
    int pos = llm_check_range(pos_in, self->m.ctx, MP_QSTR_pos);
    llm_held_check(&self->weights, MP_QSTR_weights);
    if (self->ram.obj != MP_OBJ_NULL) {
        llm_held_check(&self->ram, MP_QSTR_ram);
    }
    llm_forward(&self->m, token, pos);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(llm_model_forward_obj, llm_model_forward);

// sample(temperature, top_p, rng): next token from the current logits
// (which sampling overwrites, as llama2.c does).
static mp_obj_t llm_model_sample(size_t n_args, const mp_obj_t *args) {
    llm_model_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    float topp;
    float t = llm_get_temperature_topp(args[1], args[2], &topp);
    uint64_t *state = llm_get_rng(args[3]);
    return MP_OBJ_NEW_SMALL_INT(llm_sample(self->m.logits, self->m.cfg.vocab_size, t, topp, state, self->scratch));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_model_sample_obj, 4, 4, llm_model_sample);

// logits(): a float memoryview of the logits of the last forward().
static mp_obj_t llm_model_logits(mp_obj_t self_in) {
    llm_model_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return mp_obj_new_memoryview('f' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW, self->m.cfg.vocab_size, self->m.logits);
}
static MP_DEFINE_CONST_FUN_OBJ_1(llm_model_logits_obj, llm_model_logits);

// The type: constant in firmware, built at import in a native module.
#define LLM_MODEL_METHODS(X) \
    X(MP_QSTR_forward, llm_model_forward_obj) \
    X(MP_QSTR_sample, llm_model_sample_obj) \
    X(MP_QSTR_logits, llm_model_logits_obj)

LLM_DEFINE_LOCALS(llm_model_locals_dict, LLM_MODEL_METHODS)

#if MICROPY_ENABLE_DYNRUNTIME
mp_obj_full_type_t llm_model_type;
void llm_model_type_init(void) {
    llm_model_locals_dict_fill();
    llm_natmod_type_init(&llm_model_type, MP_QSTR_Model);
    MP_OBJ_TYPE_SET_SLOT(&llm_model_type, make_new, llm_model_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(&llm_model_type, locals_dict, (void *)&llm_model_locals_dict, 1);
}
#else
MP_DEFINE_CONST_OBJ_TYPE(
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

// memory(config, ctx, kv_type): (activation bytes, KV cache bytes) a Model
// allocates on the heap.
static mp_obj_t llm_memory_fn(mp_obj_t cfg_in, mp_obj_t ctx_in, mp_obj_t kv_in) {
    llm_config_t c;
    get_config(cfg_in, &c);
    int ctx = llm_get_positive(ctx_in, MP_QSTR_ctx);
    if (ctx > c.seq_len) {
        mp_raise_ValueError(MP_ERROR_TEXT("ctx must be between 1 and seq_len"));
    }
    mp_obj_t sizes[2] = {
        new_size(llm_state_bytes(&c, ctx) + (uint64_t)c.vocab_size * 4),
        new_size(llm_model_kv_bytes(&c, ctx, get_kv_type(kv_in))),
    };
    return mp_obj_new_tuple(2, sizes);
}
MP_DEFINE_CONST_FUN_OBJ_3(llm_memory_obj, llm_memory_fn);

// heap_largest(): bytes of the heap's largest free block (a KV cache must
// fit in one), or -1 where the module cannot ask the heap (a native module).
static mp_obj_t llm_heap_largest_fn(void) {
    #if MICROPY_ENABLE_DYNRUNTIME
    return MP_OBJ_NEW_SMALL_INT(-1);
    #else
    gc_info_t info;
    gc_info(&info);
    return mp_obj_new_int_from_uint(info.max_free * MICROPY_BYTES_PER_GC_BLOCK);
    #endif
}
MP_DEFINE_CONST_FUN_OBJ_0(llm_heap_largest_obj, llm_heap_largest_fn);

// threads([n]): the number of cores the kernels use (1 or 2); with n, ask for
// n and return what is in effect (1 where there is no second core).
static mp_obj_t llm_threads_fn(size_t n_args, const mp_obj_t *args) {
    if (n_args > 0) {
        mp_int_t n = llm_get_word(args[0], MP_QSTR_threads);
        if (n < 1 || n > 2) {
            mp_raise_ValueError(MP_ERROR_TEXT("threads must be 1 or 2"));
        }
        return MP_OBJ_NEW_SMALL_INT(llm_parallel_set_threads((int)n));
    }
    return MP_OBJ_NEW_SMALL_INT(llm_parallel_threads());
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_threads_obj, 0, 1, llm_threads_fn);
