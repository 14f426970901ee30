// The _llm module as a native .mpy (dynamic native module, see MicroPython's
// docs/develop/natmod.rst): the firmware's binding file, usermod/llm/modllm.c,
// compiled against py/dynruntime.h, plus what a native module has to build
// for itself at import: the two types, their method tables and the module's
// globals.  The kernels (kernels.c, sampler.c, transformer.c, tokenizer.c,
// parallel.c) are the firmware's sources, compiled as separate objects.
//
// What differs from the firmware module is listed in README.md here.
#include <stdarg.h>
#include "py/dynruntime.h"
#include "py/objarray.h"

// ---- what modllm.c uses that the dynamic runtime does not provide ---------

// mp_raise_msg_varg: format with the runtime's mp_vprintf (it knows %q, %d,
// %u, %s) into a buffer on the stack, then raise type(message).
typedef struct {
    char *buf;
    size_t len, cap;
} llm_natmod_text_t;

static void llm_natmod_text_strn(void *data, const char *str, size_t len) {
    llm_natmod_text_t *t = data;
    for (size_t i = 0; i < len && t->len < t->cap; i++) {
        t->buf[t->len++] = str[i];
    }
}

void mp_raise_msg_varg(const mp_obj_type_t *exc_type, mp_rom_error_text_t fmt, ...) {
    char buf[192];
    llm_natmod_text_t text = { buf, 0, sizeof(buf) };
    mp_print_t print = { &text, llm_natmod_text_strn };
    va_list args;
    va_start(args, fmt);
    mp_vprintf(&print, fmt, args);
    va_end(args);
    mp_obj_t msg = mp_obj_new_str(buf, text.len);
    mp_raise_dyn(mp_obj_new_exception_arg1_dyn(exc_type, msg));
}

// mp_obj_new_memoryview: what py/objarray.c does, with the memoryview type
// looked up by name.
mp_obj_t mp_obj_new_memoryview(byte typecode, size_t nitems, void *items) {
    mp_obj_array_t *self = m_malloc(sizeof(mp_obj_array_t));
    self->base.type = MP_OBJ_TO_PTR(mp_load_global(MP_QSTR_memoryview));
    self->typecode = typecode;
    self->free = 0;  // a memoryview's offset
    self->len = nitems;
    self->items = items;
    return MP_OBJ_FROM_PTR(self);
}

// ---- the firmware's binding ------------------------------------------------

#include "modllm.c"

// ---- types and module, built at import (no constant objects that hold qstrs
// or point at the runtime in a native module) --------------------------------

mp_obj_full_type_t llm_natmod_model_type;
mp_map_elem_t llm_natmod_model_methods[3];
static MP_DEFINE_CONST_DICT(llm_natmod_model_dict, llm_natmod_model_methods);

mp_obj_full_type_t llm_natmod_tok_type;
mp_map_elem_t llm_natmod_tok_methods[4];
static MP_DEFINE_CONST_DICT(llm_natmod_tok_dict, llm_natmod_tok_methods);

static mp_map_elem_t method(qstr name, const void *fun) {
    return (mp_map_elem_t) { MP_OBJ_NEW_QSTR(name), MP_OBJ_FROM_PTR(fun) };
}

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    mp_obj_full_type_t *t = &llm_natmod_model_type;
    t->base.type = (void *)&mp_type_type;
    t->flags = MP_TYPE_FLAG_NONE;
    t->name = MP_QSTR_Model;
    llm_natmod_model_methods[0] = method(MP_QSTR_forward, &llm_model_forward_obj);
    llm_natmod_model_methods[1] = method(MP_QSTR_sample, &llm_model_sample_obj);
    llm_natmod_model_methods[2] = method(MP_QSTR_logits, &llm_model_logits_obj);
    MP_OBJ_TYPE_SET_SLOT(t, make_new, llm_model_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(t, locals_dict, (void *)&llm_natmod_model_dict, 1);

    t = &llm_natmod_tok_type;
    t->base.type = (void *)&mp_type_type;
    t->flags = MP_TYPE_FLAG_NONE;
    t->name = MP_QSTR_Tokenizer;
    llm_natmod_tok_methods[0] = method(MP_QSTR_encode, &llm_tok_encode_obj);
    llm_natmod_tok_methods[1] = method(MP_QSTR_decode, &llm_tok_decode_obj);
    llm_natmod_tok_methods[2] = method(MP_QSTR_piece, &llm_tok_piece_obj);
    llm_natmod_tok_methods[3] = method(MP_QSTR_lookup, &llm_tok_lookup_obj);
    MP_OBJ_TYPE_SET_SLOT(t, make_new, llm_tok_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(t, attr, llm_tok_attr, 1);
    MP_OBJ_TYPE_SET_SLOT(t, locals_dict, (void *)&llm_natmod_tok_dict, 2);

    mp_store_global(MP_QSTR_matmul, MP_OBJ_FROM_PTR(&llm_matmul_obj));
    mp_store_global(MP_QSTR_matmul_q8, MP_OBJ_FROM_PTR(&llm_matmul_q8_obj));
    mp_store_global(MP_QSTR_quantize, MP_OBJ_FROM_PTR(&llm_quantize_obj));
    mp_store_global(MP_QSTR_rmsnorm, MP_OBJ_FROM_PTR(&llm_rmsnorm_obj));
    mp_store_global(MP_QSTR_softmax, MP_OBJ_FROM_PTR(&llm_softmax_obj));
    mp_store_global(MP_QSTR_exp_fast, MP_OBJ_FROM_PTR(&llm_exp_fast_obj));
    mp_store_global(MP_QSTR_quantize_fast, MP_OBJ_FROM_PTR(&llm_quantize_fast_obj));
    mp_store_global(MP_QSTR_attention_q8, MP_OBJ_FROM_PTR(&llm_attention_q8_obj));
    mp_store_global(MP_QSTR_argmax, MP_OBJ_FROM_PTR(&llm_argmax_obj));
    mp_store_global(MP_QSTR_swiglu, MP_OBJ_FROM_PTR(&llm_swiglu_obj));
    mp_store_global(MP_QSTR_rope, MP_OBJ_FROM_PTR(&llm_rope_obj));
    mp_store_global(MP_QSTR_attention, MP_OBJ_FROM_PTR(&llm_attention_obj));
    mp_store_global(MP_QSTR_random_u32, MP_OBJ_FROM_PTR(&llm_random_u32_obj));
    mp_store_global(MP_QSTR_sample, MP_OBJ_FROM_PTR(&llm_sample_obj));
    mp_store_global(MP_QSTR_memory, MP_OBJ_FROM_PTR(&llm_memory_obj));
    mp_store_global(MP_QSTR_threads, MP_OBJ_FROM_PTR(&llm_threads_obj));
    mp_store_global(MP_QSTR_Model, MP_OBJ_FROM_PTR(&llm_natmod_model_type));
    mp_store_global(MP_QSTR_Tokenizer, MP_OBJ_FROM_PTR(&llm_natmod_tok_type));

    MP_DYNRUNTIME_INIT_EXIT
}
