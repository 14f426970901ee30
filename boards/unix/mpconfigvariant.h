// The host firmware: MicroPython's unix port as the "standard" variant, plus
// ROMFS (VfsRom) so that the same mounting code as on the chip runs here.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

#define MICROPY_VFS_ROM (1)

#include "variants/mpconfigvariant_common.h"
