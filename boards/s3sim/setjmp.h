// NLR for the windowed ABI: GCC's builtins, whose longjmp goes through
// libgcc's __xtensa_nonlocal_goto and so restores the register windows.
// There is no C library setjmp to link against.  Shadows the toolchain's
// <setjmp.h> (this directory comes first on the include path).
#ifndef S3SIM_SETJMP_H
#define S3SIM_SETJMP_H

typedef void *jmp_buf[5];

// A callable setjmp for py/nativeglue.c's table, which native code uses
// for try blocks in @micropython.native/viper functions; see board.c.
int setjmp(jmp_buf buf);

#define setjmp(buf) __builtin_setjmp(buf)
// __builtin_longjmp can only return 1; nlr_jump passes 1.
#define longjmp(buf, val) __builtin_longjmp(buf, 1)

#endif
