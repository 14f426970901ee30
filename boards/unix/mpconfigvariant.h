// The host firmware: MicroPython's unix port as the "standard" variant, plus
// ROMFS (VfsRom) so that the same mounting code as on the chip runs here.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

#define MICROPY_VFS_ROM (1)

// main.c interns every argument as a qstr before any Python runs, where a
// too-long qstr is an uncaught exception ("FATAL: uncaught NLR").  Two length
// bytes take arguments up to 65535 bytes, where one took 255; long_argv.c
// takes the longer ones.
#define MICROPY_QSTR_BYTES_IN_LEN (2)

#include "variants/mpconfigvariant_common.h"
