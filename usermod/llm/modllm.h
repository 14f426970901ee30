// What the _llm module's binding files share: the compile-time switch, the
// argument checks, and buffers held across calls.  The binding files
// (modllm_*.c) do argument checking and object plumbing only; the numeric
// work is in the directory's other .c files (CONTRIBUTING.md lists them by
// job and target), which know nothing of MicroPython.
//
//   modllm.c             the module: its globals (llm_module_table.h), registration
//   modllm_args.c        argument checks, buffers held across calls
//   modllm_model.c       Model, memory(), threads()
//   modllm_tokenizer.c   Tokenizer
//   modllm_sampler.c     random_u32(), sample()
//   modllm_mappedfile.c  MappedFile (unix port only)
//   modllm_kernels.c     single kernels for the tests (LLM_TEST_KERNELS)
//
// The firmware compiles each file on its own; the native module
// (usermod/natmod/llm_natmod.c) compiles them as one unit against
// py/dynruntime.h.
#ifndef LLM_MODLLM_H
#define LLM_MODLLM_H

#include "py/runtime.h"

// LLM_TEST_KERNELS: bind the single kernels (matmul, rope, attention, ...)
// that only the tests call, and nothing else does.  On for the unix port (the
// host firmware the tests drive) and the x64 native module
// (usermod/natmod/Makefile); off for the chip's firmware, which then carries
// only what the llm package calls.  A board can set it in its mpconfigboard.h.
#ifndef LLM_TEST_KERNELS
#if defined(UNIX)
#define LLM_TEST_KERNELS (1)
#else
#define LLM_TEST_KERNELS (0)
#endif
#endif

// Tables of qstrs are constant data in firmware.  In a native .mpy qstrs get
// their numbers when the module is loaded, so there the tables are filled on
// the stack where they are used.
#if MICROPY_ENABLE_DYNRUNTIME
#define LLM_QSTR_TABLE const
#else
#define LLM_QSTR_TABLE static const
#endif

// X-macro helpers over name lists (fileformat.h's, the method lists below).
#define LLM_QSTR_ITEM(name, ...) MP_QSTR_##name,
#define LLM_COUNT_ITEM(name) +1

// A type's methods, from one list of X(qstr, function object):
// LLM_DEFINE_LOCALS(dict, list) defines the locals dict `dict`, constant in
// firmware; in a native module (no constant objects that hold qstrs there)
// its table is filled at import by dict##_fill().
#define LLM_ROM_METHOD(name, obj) { MP_ROM_QSTR(name), MP_ROM_PTR(&obj) },
#define LLM_COUNT_METHOD(name, obj) +1
#define LLM_SET_METHOD(name, obj) *elem++ = (mp_map_elem_t) { MP_OBJ_NEW_QSTR(name), MP_OBJ_FROM_PTR(&obj) };
#if MICROPY_ENABLE_DYNRUNTIME
// The table is not static: mpy_ld links no static variables in .bss.
#define LLM_DEFINE_LOCALS(dict, list) \
    mp_map_elem_t dict##_table[0 list(LLM_COUNT_METHOD)]; \
    static MP_DEFINE_CONST_DICT(dict, dict##_table); \
    static void dict##_fill(void) { \
        mp_map_elem_t *elem = dict##_table; \
        list(LLM_SET_METHOD) \
    }
#else
#define LLM_DEFINE_LOCALS(dict, list) \
    static const mp_rom_map_elem_t dict##_table[] = { list(LLM_ROM_METHOD) }; \
    static MP_DEFINE_CONST_DICT(dict, dict##_table);
#endif

// A type of the module is constant in firmware (MP_DEFINE_CONST_OBJ_TYPE);
// a native module builds it at import, in <type>_init(), which
// llm_natmod_type_init starts.  Not static: see above.
#if MICROPY_ENABLE_DYNRUNTIME
static inline void llm_natmod_type_init(mp_obj_full_type_t *type, qstr name) {
    type->base.type = (void *)&mp_type_type;
    type->flags = MP_TYPE_FLAG_NONE;
    type->name = name;
}
#endif

// ---- argument checks (modllm_args.c) ---------------------------------------

void *llm_get_buf(mp_obj_t obj, size_t *len, int flags);
// A float32 buffer: returns it and its element count; checks alignment.
float *llm_get_floats(mp_obj_t obj, size_t *count, int flags, qstr name);
// ValueError unless have >= want.
void llm_need_count(size_t have, size_t want, qstr name);
// An int in 1..2**31-1, or ValueError.
int llm_get_positive(mp_obj_t obj, qstr name);
// An int in 0..limit-1, or ValueError.
int llm_check_range(mp_obj_t obj, int limit, qstr name);
// An array of count items of size bytes, or MemoryError (on a 32-bit MCU
// count * size can wrap around to a small allocation).
void *llm_new_array(size_t count, size_t size);
bool llm_is_writable(mp_obj_t obj);

// ---- buffers held across calls (modllm_args.c) ------------------------------
// MicroPython has no lock on exported buffers: a bytearray can be resized,
// which frees the memory a pointer taken earlier still points at.  A Model
// keeps the object that owns its weights and checks before each use that
// the buffer has not moved (llm_held_check).  A writable memoryview is
// refused: resizing its bytearray frees what the view points at, and nothing
// tells the view.  A memory-mapped file stays mapped while the module uses it.

typedef struct {
    mp_obj_t obj;       // owns the buffer; kept alive
    mp_obj_t mapping;   // the file mapping the buffer lies in, kept mapped, or NULL
    const uint8_t *buf;
    size_t len;
} llm_held_t;

void llm_hold(llm_held_t *h, mp_obj_t obj, qstr name);
void llm_held_check(const llm_held_t *h, qstr name);

// The file mapping that [buf, buf + len) lies in, or MP_OBJ_NULL
// (modllm_mappedfile.c; always MP_OBJ_NULL off the unix port).
mp_obj_t llm_mapping_containing(const void *buf, size_t len);

// ---- sampler arguments (modllm_sampler.c), shared with Model.sample ---------

uint64_t *llm_get_rng(mp_obj_t obj);
float llm_get_temperature_topp(mp_obj_t t_in, mp_obj_t p_in, float *topp);

#endif
