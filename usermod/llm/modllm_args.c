// Argument checks shared by the _llm bindings, and buffers held across calls
// (see modllm.h).
#include <string.h>
#include "py/runtime.h"
#include "modllm.h"

void *llm_get_buf(mp_obj_t obj, size_t *len, int flags) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(obj, &info, flags);
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

int llm_get_positive(mp_obj_t obj, qstr name) {
    mp_int_t v = mp_obj_get_int(obj);
    if (v <= 0 || v > 0x7fffffff) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q must be between 1 and 2**31-1"), name);
    }
    return (int)v;
}

int llm_check_range(mp_obj_t obj, int limit, qstr name) {
    mp_int_t v = mp_obj_get_int(obj);
    if (v < 0 || v >= limit) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q %d out of range 0..%d"), name, (int)v, limit - 1);
    }
    return (int)v;
}

void *llm_new_array(size_t count, size_t size) {
    if (count > SIZE_MAX / size) {
        mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("array size exceeds the address space"));
    }
    return m_malloc(count * size);
}

bool llm_is_writable(mp_obj_t obj) {
    mp_buffer_info_t info;
    return mp_get_buffer(obj, &info, MP_BUFFER_WRITE);
}

void llm_hold(llm_held_t *h, mp_obj_t obj, qstr name) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(obj, &info, MP_BUFFER_READ);
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
    if (!mp_get_buffer(h->obj, &info, MP_BUFFER_READ) || info.buf != h->buf || info.len != h->len) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("%q: the buffer was resized or moved after it was handed over"), name);
    }
}
