/* The few C library functions the kernels, tokenizer and MicroPython's libm
 * call, for the bare-metal build (the test toolchain ships no libc.a).
 * Built with -fno-builtin -fno-tree-loop-distribute-patterns so that GCC
 * does not turn these loops into calls to themselves. */
#include <stddef.h>

void *memcpy(void *d, const void *s, size_t n) {
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--) {
        *p++ = *q++;
    }
    return d;
}

void *memmove(void *d, const void *s, size_t n) {
    unsigned char *p = d;
    const unsigned char *q = s;
    if (p < q) {
        while (n--) {
            *p++ = *q++;
        }
    } else {
        while (n--) {
            p[n] = q[n];
        }
    }
    return d;
}

void *memset(void *d, int c, size_t n) {
    unsigned char *p = d;
    while (n--) {
        *p++ = (unsigned char)c;
    }
    return d;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

#include "../../usermod/natmod/libc_loops.c"
