// Configuration of the qemu board (selected with -DMP_CONFIGFILE, see
// mpconfigboard.mk): take the qemu port's settings, then override some.

#include "mpconfigport.h"

// ROMFS at /rom, backed by a fixed RAM region (see board_qemu.c and the
// linker script); mp_init() mounts it when it holds a valid image.
#undef MICROPY_VFS_ROM_IOCTL
#define MICROPY_VFS_ROM_IOCTL (1)

// time module: ticks_*, sleep* (SysTick), time/time_ns/gmtime/localtime/
// mktime (host clock at boot via semihosting), see board_qemu.c.
#undef MICROPY_PY_TIME
#define MICROPY_PY_TIME (1)
#define MICROPY_PY_TIME_TIME_TIME_NS (1)
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_INCLUDEFILE "board_modtime.c"

#undef MICROPY_PY_SYS_STDIO_BUFFER
#define MICROPY_PY_SYS_STDIO_BUFFER (1)

// These are on at the port's ROM level already; pinned here because the app
// depends on them.
#define MICROPY_ENABLE_FINALISER (1)
#define MICROPY_KBD_EXCEPTION (1)
#define MICROPY_PY_OS (1)
#define MICROPY_PY_IO (1)
#define MICROPY_PY_HASHLIB (1)
#define MICROPY_PY_HASHLIB_SHA256 (1)

// Called at the end of every mp_init() (boot and each soft reset), before the
// ROMFS is mounted.
void board_init(void);
#define MICROPY_PORT_INIT_FUNC board_init()
