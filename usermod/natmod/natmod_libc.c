// The C library functions the kernels call, for the native .mpy: a native
// module is linked against no C library.  memcpy, memmove and memset go to
// the firmware's own (through mp_fun_table); memcmp and memchr are loops.
// Built with -fno-builtin -fno-tree-loop-distribute-patterns so that the
// compiler does not turn these loops back into calls to themselves.
#include "py/dynruntime.h"

void *memcpy(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}

void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}

#include "libc_loops.c"

// gcc merges sinf(x) and cosf(x) of the same x into one sincosf call.
float sinf(float x);
float cosf(float x);

void sincosf(float x, float *s, float *c) {
    *s = sinf(x);
    *c = cosf(x);
}
