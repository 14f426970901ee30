// MappedFile (unix port only): a read-only memory map of a host file, which
// keeps host weights out of the heap, as ROMFS does on the chip.  Also the
// registry of live mappings that Model and Tokenizer consult
// (llm_mapping_containing) to keep a mapping alive while they read it.
#include <string.h>
#include "py/runtime.h"
#include "modllm.h"

#if defined(UNIX)
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
mp_obj_t llm_mapping_containing(const void *buf, size_t len) {
    for (llm_mapping_t *m = live_mappings; m != NULL; m = m->next) {
        uintptr_t start = (uintptr_t)m->addr, p = (uintptr_t)buf;
        if (p >= start && p - start <= m->len && len <= m->len - (p - start)) {
            return MP_OBJ_FROM_PTR(m);
        }
    }
    return MP_OBJ_NULL;
}

// The mapping itself is a separate object that Python never sees: the GC
// finds its __del__ only when nothing, neither the MappedFile nor a Model or
// Tokenizer reading it (see llm_hold() and llm_mapping_containing()), refers to it.
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
    uint8_t *copy;  // the bytes in the heap, made for the buffer protocol
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
    self->copy = NULL;
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

extern const mp_obj_type_t llm_mapped_type;

bool llm_mapped_bytes(mp_obj_t obj, const uint8_t **buf, size_t *len) {
    if (mp_obj_get_type(obj) != &llm_mapped_type) {
        return false;
    }
    llm_mapped_obj_t *self = MP_OBJ_TO_PTR(obj);
    *buf = self->map->addr;
    *len = self->map->len;
    return true;
}

// The buffer protocol gives a copy in the heap, made once.  A memoryview
// keeps only the address of its bytes, which keeps a heap block alive but
// not a mapping: a view of the mapping itself would read unmapped memory
// once the MappedFile is collected.  _llm's own readers (Model, Tokenizer,
// the kernels) take the mapping through llm_mapped_bytes() instead, and
// keep it mapped while they use it.
static mp_int_t llm_mapped_get_buffer(mp_obj_t self_in, mp_buffer_info_t *info, mp_uint_t flags) {
    llm_mapped_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (flags & MP_BUFFER_WRITE) {
        return 1;
    }
    if (self->copy == NULL) {
        self->copy = m_new(uint8_t, self->map->len);
        memcpy(self->copy, self->map->addr, self->map->len);
    }
    info->buf = self->copy;
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

// MappedFile(path): a file's bytes, read-only, for Model and Tokenizer, which
// read them in place.  The file stays mapped while this object, or a Model
// or Tokenizer over it, is alive.  Anything else (memoryview, bytes) gets a
// heap copy through the buffer protocol (see llm_mapped_get_buffer).
MP_DEFINE_CONST_OBJ_TYPE(
    llm_mapped_type,
    MP_QSTR_MappedFile,
    MP_TYPE_FLAG_NONE,
    make_new, llm_mapped_make_new,
    buffer, llm_mapped_get_buffer,
    locals_dict, &llm_mapped_locals_dict
    );

#else

bool llm_mapped_bytes(mp_obj_t obj, const uint8_t **buf, size_t *len) {
    (void)obj;
    (void)buf;
    (void)len;
    return false;
}

mp_obj_t llm_mapping_containing(const void *buf, size_t len) {
    (void)buf;
    (void)len;
    return MP_OBJ_NULL;
}

#endif
