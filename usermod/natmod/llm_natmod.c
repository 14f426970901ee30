// The _llm module as a native .mpy (dynamic native module, see MicroPython's
// docs/develop/natmod.rst): the firmware's binding files, usermod/llm/modllm*.c,
// compiled against py/dynruntime.h.  What a native module has to build for
// itself at import (the types, their method tables, the module's globals) is
// next to the firmware's constant tables in those files (mpy_init is in
// modllm.c).  The plain-C sources (kernels, attention, KV cache, transformer,
// sampler, tokenizer: the SRC list in the Makefile here) are the firmware's,
// compiled as separate objects.
//
// What differs from the firmware module is listed in README.md here.
#include <stdarg.h>
#include "py/dynruntime.h"
#include "py/objarray.h"

// ---- what the bindings use that the dynamic runtime does not provide -------

#ifndef mp_type_MemoryError  // py/dynruntime.h names only some exception types
#define mp_type_MemoryError (*(mp_obj_type_t *)(mp_load_global(MP_QSTR_MemoryError)))
#endif

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

// ---- the firmware's bindings, compiled here as one unit -------------------
// modllm.c last: its mpy_init builds the types and stores the globals listed
// in llm_module_table.h.

#include "modllm_args.c"
#include "modllm_mappedfile.c"
#include "modllm_sampler.c"
#include "modllm_model.c"
#include "modllm_tokenizer.c"
#include "modllm_kernels.c"
#include "modllm.c"
