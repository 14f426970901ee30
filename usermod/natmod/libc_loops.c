// memcmp and memchr as plain loops, for builds linked against no C library:
// the native .mpy (natmod_libc.c) and the bare-metal S3 kernel harness
// (tests/s3kernels/libc.c) include this file.  Compile it with -fno-builtin
// -fno-tree-loop-distribute-patterns, so that the compiler does not turn the
// loops back into calls to themselves.
#include <stddef.h>

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *p = a, *q = b;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != q[i]) {
            return p[i] < q[i] ? -1 : 1;
        }
    }
    return 0;
}

void *memchr(const void *s, int c, size_t n) {
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == (unsigned char)c) {
            return (void *)(p + i);
        }
    }
    return NULL;
}
