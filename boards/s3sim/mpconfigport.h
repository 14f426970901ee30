// Configuration of the s3sim port: MicroPython on QEMU's `sim` machine with
// the ESP32-S3 core (Xtensa LX7, windowed ABI, single-precision FPU).
// Feature choices follow ports/esp32 where the emulated core allows them.

#include <stdint.h>
#include <alloca.h>

#define MICROPY_CONFIG_ROM_LEVEL            (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// py/nlrxtensa.c is for the call0 ABI; windowed code unwinds through GCC's
// __builtin_setjmp/__builtin_longjmp (see setjmp.h in this directory).
#define MICROPY_NLR_SETJMP                  (1)

// Native code: xtensawin .mpy files.  Windowed returns keep the top two
// bits of the PC, so code must run in the firmware's 1 GB region (0x40000000
// up), not from the heap in data RAM: native code (loaded or compiled) is
// put in an instruction-RAM region (board.c).
#define MICROPY_EMIT_XTENSAWIN              (1)
#define MICROPY_PERSISTENT_CODE_LOAD        (1)
void s3sim_native_code_alloc(size_t min_size, void **ptr, size_t *size);
void *s3sim_native_code_commit(void *buf, size_t len, void *reloc);
#define MP_PLAT_ALLOC_EXEC(min_size, ptr, size) s3sim_native_code_alloc(min_size, ptr, size)
#define MP_PLAT_FREE_EXEC(ptr, size)
#define MP_PLAT_COMMIT_EXEC(buf, len, reloc) s3sim_native_code_commit(buf, len, reloc)

#define MICROPY_ENABLE_GC                   (1)
#define MICROPY_ENABLE_FINALISER            (1)
#define MICROPY_ENABLE_EMERGENCY_EXCEPTION_BUF (1)
#define MICROPY_STACK_CHECK_MARGIN          (1024)
#define MICROPY_LONGINT_IMPL                (MICROPY_LONGINT_IMPL_MPZ)
#define MICROPY_FLOAT_IMPL                  (MICROPY_FLOAT_IMPL_FLOAT)
#define MICROPY_READER_VFS                  (1)
#define MICROPY_KBD_EXCEPTION               (1)
#define MICROPY_HELPER_REPL                 (1)
#define MICROPY_REPL_INFO                   (1)
#define MICROPY_WARNINGS                    (1)

#define MICROPY_PY_SYS_PLATFORM             "s3sim"
#define MICROPY_HW_BOARD_NAME               "QEMU sim"
#define MICROPY_HW_MCU_NAME                 "ESP32-S3 core"
#define MICROPY_PY_SYS_STDIO_BUFFER         (1)
#define MICROPY_PY_SELECT                   (0)
#define MICROPY_PY_ASYNCIO                  (0)
#define MICROPY_PY_MACHINE                  (0)
#define MICROPY_PY_OS                       (1)
#define MICROPY_PY_IO                       (1)
#define MICROPY_PY_HASHLIB                  (1)
#define MICROPY_PY_HASHLIB_SHA256           (1)

// time: ticks_* from the core's cycle counter, time()/localtime() from the
// host clock handed over at start (see board.c).
#define MICROPY_PY_TIME                     (1)
#define MICROPY_PY_TIME_TIME_TIME_NS        (1)
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_INCLUDEFILE         "board_modtime.c"

// Storage as on the ESP32-S3 board: ROMFS partition at /rom, littlefs at /.
#define MICROPY_VFS                         (1)
#define MICROPY_VFS_ROM                     (1)
#define MICROPY_VFS_ROM_IOCTL               (1)

// There is no console interrupt: the VM polls the console every so many
// jumps/returns so that Ctrl-C raises KeyboardInterrupt while code runs
// (a semihosting read costs a trip out of the translated code, so not every time).
void s3sim_poll_console(void);
#define S3SIM_POLL_DIVISOR (512)
#define MICROPY_VM_HOOK_INIT static unsigned int vm_hook_divisor = S3SIM_POLL_DIVISOR;
#define MICROPY_VM_HOOK_POLL if (--vm_hook_divisor == 0) { \
        vm_hook_divisor = S3SIM_POLL_DIVISOR; \
        s3sim_poll_console(); \
}
#define MICROPY_VM_HOOK_LOOP MICROPY_VM_HOOK_POLL
#define MICROPY_VM_HOOK_RETURN MICROPY_VM_HOOK_POLL

// Called at the end of every mp_init(), before the ROMFS is mounted.
void s3sim_board_init(void);
#define MICROPY_PORT_INIT_FUNC s3sim_board_init()

#define MP_SSIZE_MAX (0x7fffffff)
#define UINT_FMT "%u"
#define INT_FMT "%d"
typedef int mp_int_t;
typedef unsigned int mp_uint_t;
typedef long mp_off_t;

#define MP_NEED_LOG2 (1)
#define MP_STATE_PORT MP_STATE_VM
