// The host firmware: MicroPython's unix port as the "standard" variant, plus
// ROMFS (VfsRom) so that the same mounting code as on the chip runs here.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

#define MICROPY_VFS_ROM (1)

// main.c interns every argument as a qstr before any Python runs, where a
// too-long qstr is an uncaught exception ("FATAL: uncaught NLR").  Two length
// bytes take arguments up to 65535 bytes, where one took 255; long_argv.c
// takes the longer ones.
#define MICROPY_QSTR_BYTES_IN_LEN (2)

// Ctrl-C as a pending exception that the VM raises at its next check (as
// on the boards), not by a non-local jump out of the signal handler: that
// jump can leave whatever C code was running half-done, and out of gc_alloc
// it left the heap's lock taken, hanging the next allocation for good (seen
// with llm.threads(2) under repeated Ctrl-C, tests/test_ctrl_c_threads.py).
// The kernels return to Python every token and the tokenizer polls
// (mp_handle_pending) between merge steps, so generation still stops within
// a token.  A second Ctrl-C before the first is handled exits, as the unix
// port does whenever asynchronous interrupts are off.  (The common file sets
// it unconditionally, hence the redefinition after it.)
#include "variants/mpconfigvariant_common.h"
#undef MICROPY_ASYNC_KBD_INTR
#define MICROPY_ASYNC_KBD_INTR (0)
