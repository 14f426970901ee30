// Argument checks shared by the _llm bindings, and buffers held across calls
// (see modllm.h).
#include <string.h>
#include "py/runtime.h"
#include "modllm.h"

// A MappedFile's read-only bytes are its mapping (its buffer protocol gives
// a heap copy, for memoryviews: modllm_mappedfile.c).
static bool get_buffer(mp_obj_t obj, mp_buffer_info_t *info, int flags) {
    const uint8_t *mapped;
    if (!(flags & MP_BUFFER_WRITE) && llm_mapped_bytes(obj, &mapped, &info->len)) {
        info->buf = (void *)mapped;
        return true;
    }
    return mp_get_buffer(obj, info, flags);
}

void *llm_get_buf(mp_obj_t obj, size_t *len, int flags) {
    mp_buffer_info_t info;
    if (!get_buffer(obj, &info, flags & MP_BUFFER_RW)) {
        mp_get_buffer_raise(obj, &info, flags);
    }
    *len = info.len;
    return info.buf;
}

float *llm_get_floats(mp_obj_t obj, size_t *count, int flags, qstr name) {
    size_t len;
    void *buf = llm_get_buf(obj, &len, flags);
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

void llm_need_count(size_t have, size_t want, qstr name) {
    if (have < want) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("%q: need %u items, buffer holds %u"), name, (unsigned)want, (unsigned)have);
    }
}

// str(obj), for messages that must show an int whatever its size.
static const char *int_text(mp_obj_t obj) {
    return mp_obj_str_get_str(mp_call_function_n_kw(MP_OBJ_FROM_PTR(&mp_type_str), 1, 0, &obj));
}

// obj's value in *v, false when obj is an int too big for a machine word.
// mp_obj_get_int raises OverflowError there, which is not among the errors
// _llm.pyi promises: every size a binding takes fits in a word, so a
// bigger int is a bad value.  Not an int at all: TypeError.
static bool get_word(mp_obj_t obj, mp_int_t *v) {
    if (!mp_obj_is_small_int(obj) && mp_obj_get_type(obj) == &mp_type_int) {
        mp_int_t most = (mp_int_t)(~(mp_uint_t)0 >> 1);
        if (mp_obj_is_true(mp_binary_op(MP_BINARY_OP_MORE, obj, mp_obj_new_int(most)))
            || mp_obj_is_true(mp_binary_op(MP_BINARY_OP_LESS, obj, mp_obj_new_int(-most - 1)))) {
            return false;
        }
    }
    *v = mp_obj_get_int(obj);
    return true;
}

mp_int_t llm_get_word(mp_obj_t obj, qstr name) {
    mp_int_t v;
    if (!get_word(obj, &v)) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q %s out of range"), name, int_text(obj));
    }
    return v;
}

int llm_get_positive(mp_obj_t obj, qstr name) {
    mp_int_t v = llm_get_word(obj, name);
    if (v <= 0 || v > 0x7fffffff) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q must be between 1 and 2**31-1"), name);
    }
    return (int)v;
}

int llm_check_range(mp_obj_t obj, int limit, qstr name) {
    mp_int_t v;
    if (!get_word(obj, &v) || v < 0 || v >= limit) {
        // The value as Python wrote it: a cast to int would show 2**32 as 0.
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q %s out of range 0..%d"), name, int_text(obj),
            limit - 1);
    }
    return (int)v;
}

void *llm_new_array(size_t count, size_t size) {
    if (count > SIZE_MAX / size) {
        mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("array size exceeds the address space"));
    }
    return m_malloc(count * size);
}

void *llm_try_alloc(size_t bytes) {
    #if MICROPY_ENABLE_DYNRUNTIME
    return m_realloc_maybe(NULL, bytes, true);
    #else
    return m_malloc_maybe(bytes);
    #endif
}

void llm_poll(void) {
    #if !MICROPY_ENABLE_DYNRUNTIME
    // A Ctrl-C (or any pending exception) raises here.  A native module
    // cannot reach the scheduler; the VM looks when the call returns.
    mp_handle_pending(true);
    #endif
}

bool llm_is_writable(mp_obj_t obj) {
    mp_buffer_info_t info;
    return mp_get_buffer(obj, &info, MP_BUFFER_WRITE);
}

void llm_hold(llm_held_t *h, mp_obj_t obj, qstr name) {
    mp_buffer_info_t info;
    if (!get_buffer(obj, &info, MP_BUFFER_READ)) {
        mp_get_buffer_raise(obj, &info, MP_BUFFER_READ);
    }
    if (mp_obj_get_type(obj)->name == MP_QSTR_memoryview && llm_is_writable(obj)) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("%q: a writable memoryview can outlive its memory; pass the object itself"), name);
    }
    h->obj = obj;
    h->buf = info.buf;
    h->len = info.len;
    h->mapping = llm_mapping_containing(info.buf, info.len);
}

void llm_held_check(const llm_held_t *h, qstr name) {
    mp_buffer_info_t info;
    if (!get_buffer(h->obj, &info, MP_BUFFER_READ) || info.buf != h->buf || info.len != h->len) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("%q: the buffer was resized or moved after it was handed over"), name);
    }
}
