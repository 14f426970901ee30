// The s3sim port: main loop, console and time for MicroPython on QEMU's `sim`
// machine with the ESP32-S3 core (ROMFS partition and RAM disk:
// boards/common/board_storage.c, on the regions of s3sim.ld).
//
// The machine has no peripherals and takes no interrupts; everything goes
// through semihosting (the `simcall` instruction): the console is fds 0/1,
// which qemu routes to its first serial device (-serial pty), and reading
// it never blocks.  So input is polled: by the REPL while it waits, and by
// the VM every S3SIM_POLL_DIVISOR jumps/returns while code runs, which is
// how Ctrl-C reaches running code.

#include <string.h>

#include "py/compile.h"
#include "py/gc.h"
#include "py/mphal.h"
#include "py/persistentcode.h"
#include "py/runtime.h"
#include "py/stackctrl.h"
#include "py/stream.h"
#include "shared/readline/readline.h"
#include "shared/runtime/interrupt_char.h"
#include "shared/runtime/pyexec.h"
#include "shared/timeutils/timeutils.h"
#include "board_storage.h"

// From the linker script (s3sim.ld).
extern volatile uint32_t _board_boot_time[2]; // host seconds since 1970, set by host/emulator.py

// Python recursion budget of the ESP32 port (16 KB task stack minus 1 KB);
// the C stack itself is _board_stack_size (64 KB by default).
#define BOARD_STACK_LIMIT (15 * 1024)

/******************************************************************************/
// Semihosting.

#define SIM_EXIT (1)
#define SIM_READ (3)
#define SIM_WRITE (4)
#define SIM_SELECT_ONE (29)
#define SIM_SELECT_READ (1)

static inline int sim_call(int nr, int a, int b, int c) {
    register int a2 __asm__ ("a2") = nr;
    register int a3 __asm__ ("a3") = a;
    register int a4 __asm__ ("a4") = b;
    register int a5 __asm__ ("a5") = c;
    __asm__ volatile ("simcall" : "+r" (a2), "+r" (a3) : "r" (a4), "r" (a5) : "memory");
    return a2;
}

// Idle wait.  select_one on the console answers at once (qemu 7.2's sim
// console), so an idle REPL would spin a host core.  A host fd that never
// becomes readable does wait for the timeout: a pty master nobody writes to
// (the host's /dev/ptmx, opened through semihosting).  Input that arrives
// meanwhile waits in the pty; waiting only after 100 ms without input keeps
// transfers fast (qemu's console buffer holds only a few bytes).
#define SIM_OPEN (5)
#define SIM_O_RDWR (2)
#define BOARD_IDLE_AFTER_MS (100)
#define BOARD_IDLE_WAIT_US (10000)
static int board_idle_fd = -2;
static uint64_t board_last_input;
static uint64_t board_cycles(void);

static void sim_sleep_us(uint32_t us) {
    if (board_idle_fd == -2) {
        static const char path[] = "/dev/ptmx";
        board_idle_fd = sim_call(SIM_OPEN, (int)(uintptr_t)path, SIM_O_RDWR, 0);
    }
    if (board_idle_fd >= 0) {
        uint32_t tv[2] = { us / 1000000, us % 1000000 };
        sim_call(SIM_SELECT_ONE, board_idle_fd, SIM_SELECT_READ, (int)(uintptr_t)tv);
    }
}

static void sim_wait_input(void) {
    if (board_cycles() - board_last_input >= (uint64_t)BOARD_IDLE_AFTER_MS * (S3SIM_CCOUNT_HZ / 1000)) {
        sim_sleep_us(BOARD_IDLE_WAIT_US);
    }
}

/******************************************************************************/
// Time: the cycle counter, extended to 64 bits.  qemu derives CCOUNT from its
// virtual clock, which follows host time; so ticks are real time, and say
// nothing of how fast the code would run on a chip (use the instruction
// counting plugin for that).

#define BOARD_CPU_HZ (S3SIM_CCOUNT_HZ)

static uint32_t board_ccount_last;
static uint32_t board_ccount_high;

static uint64_t board_cycles(void) {
    uint32_t now;
    __asm__ volatile ("rsr.ccount %0" : "=r" (now));
    // Wraps every 2**32 cycles; a wrap is seen if time is read at least that
    // often (the REPL and sleeps read it; a long silent computation may lose one).
    if (now < board_ccount_last) {
        board_ccount_high += 1;
    }
    board_ccount_last = now;
    return (uint64_t)board_ccount_high << 32 | now;
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(board_cycles() / (BOARD_CPU_HZ / 1000));
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)(board_cycles() / (BOARD_CPU_HZ / 1000000));
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return (mp_uint_t)board_cycles();
}

uint64_t mp_hal_time_ns(void) {
    uint64_t boot = (uint64_t)_board_boot_time[1] << 32 | _board_boot_time[0];
    if (boot >= TIMEUTILS_SECONDS_1970_TO_2000) {
        boot -= TIMEUTILS_SECONDS_1970_TO_2000;
    } else {
        boot = 0; // not handed over: the clock starts at 2000-01-01
    }
    return boot * 1000000000ULL + board_cycles() * (1000000000ULL / BOARD_CPU_HZ);
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t end = board_cycles() + (uint64_t)us * (BOARD_CPU_HZ / 1000000);
    while (board_cycles() < end) {
    }
}

/******************************************************************************/
// Console.

#define BOARD_RX_BUF_SIZE (1024)
static uint8_t board_rx_buf[BOARD_RX_BUF_SIZE];
static uint32_t board_rx_head, board_rx_tail;

// Moves waiting console bytes into the ring buffer; Ctrl-C, while code runs
// (interrupt char set), schedules KeyboardInterrupt instead.
void s3sim_poll_console(void) {
    uint8_t buf[64];
    // CCOUNT wraps every ~18 s at 240 MHz: reading it here, as code runs,
    // keeps its 64-bit extension right.
    board_cycles();
    for (;;) {
        uint32_t space = (board_rx_tail - board_rx_head - 1) % BOARD_RX_BUF_SIZE;
        if (space == 0) {
            return; // the rest waits in qemu and the pty
        }
        int n = sim_call(SIM_READ, 0, (int)(uintptr_t)buf, space < sizeof(buf) ? space : sizeof(buf));
        if (n <= 0) {
            return;
        }
        board_last_input = board_cycles();
        for (int i = 0; i < n; ++i) {
            if (buf[i] == mp_interrupt_char) {
                mp_sched_keyboard_interrupt();
            } else {
                board_rx_buf[board_rx_head] = buf[i];
                board_rx_head = (board_rx_head + 1) % BOARD_RX_BUF_SIZE;
            }
        }
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint64_t end = board_cycles() + (uint64_t)ms * (BOARD_CPU_HZ / 1000);
    for (;;) {
        s3sim_poll_console();
        mp_handle_pending(true); // Ctrl-C interrupts time.sleep()
        uint64_t now = board_cycles();
        if (now >= end) {
            return;
        }
        uint64_t left_us = (end - now) / (BOARD_CPU_HZ / 1000000);
        sim_sleep_us(left_us < BOARD_IDLE_WAIT_US ? (uint32_t)left_us : BOARD_IDLE_WAIT_US);
    }
}

int mp_hal_stdin_rx_chr(void) {
    for (;;) {
        if (board_rx_tail != board_rx_head) {
            int c = board_rx_buf[board_rx_tail];
            board_rx_tail = (board_rx_tail + 1) % BOARD_RX_BUF_SIZE;
            return c;
        }
        s3sim_poll_console();
        if (board_rx_tail == board_rx_head) {
            // While code runs (input()), Ctrl-C raises KeyboardInterrupt here.
            mp_handle_pending(true);
            sim_wait_input();
        }
    }
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    size_t done = 0;
    while (done < len) {
        int n = sim_call(SIM_WRITE, 1, (int)(uintptr_t)(str + done), len - done);
        if (n <= 0) {
            break;
        }
        done += n;
    }
    return done;
}

/******************************************************************************/
// Native code (xtensawin .mpy files, @micropython.native/viper) lives in an
// instruction-RAM region: allocation only grows, and a soft reset, which
// drops all native code, starts again from the bottom.

extern uint8_t _board_exec_start[], _board_exec_end[];
static uint8_t *board_exec_cur;

void s3sim_native_code_alloc(size_t min_size, void **ptr, size_t *size) {
    size_t len = (min_size + 3) & ~3;
    if (len > (size_t)(_board_exec_end - board_exec_cur)) {
        m_malloc_fail(len);
    }
    *ptr = board_exec_cur;
    *size = len;
    board_exec_cur += len;
}

// Code loaded from a .mpy file was read into the region already: relocate it
// in place.
void *s3sim_native_code_commit(void *buf, size_t len, void *reloc) {
    (void)len;
    if (reloc) {
        mp_native_relocate(reloc, buf, (uintptr_t)buf);
    }
    return buf;
}

void s3sim_board_init(void) {
    board_exec_cur = _board_exec_start;
    mp_stack_set_limit(BOARD_STACK_LIMIT);
    readline_init0();
    board_storage_mount_ramdisk();
}

/******************************************************************************/
// GC roots and main loop.

#if S3SIM_HEAP_PSRAM
__attribute__((section(".psram")))
#endif
static uint32_t board_heap[MICROPY_HEAP_SIZE / sizeof(uint32_t)];

// Registers of the caller frames may hold the only copy of a pointer.  Each
// level of this recursion rotates the register window by 8 (call8), so after
// XCHAL_NUM_AREGS / 8 = 8 levels every older frame has been spilled to its
// stack save areas by the window-overflow handlers; then the stack, from
// here up, holds every root.
static __attribute__((noinline)) void board_gc_spill_and_scan(volatile unsigned int level) {
    if (level < 8) {
        board_gc_spill_and_scan(level + 1);
        __asm__ volatile ("" ::: "memory"); // keep the call a real call, not a jump
        return;
    }
    uintptr_t sp;
    __asm__ volatile ("mov %0, a1" : "=r" (sp));
    gc_collect_root((void **)sp, ((uintptr_t)MP_STATE_THREAD(stack_top) - sp) / sizeof(uintptr_t));
}

void gc_collect(void) {
    gc_collect_start();
    board_gc_spill_and_scan(0);
    gc_collect_end();
}

void nlr_jump_fail(void *val) {
    (void)val;
    mp_hal_stdout_tx_strn("FATAL: uncaught NLR\n", 20);
    sim_call(SIM_EXIT, 1, 0, 0);
    for (;;) {
    }
}

void s3sim_main(void) {
    mp_stack_ctrl_init();
    mp_stack_set_limit(BOARD_STACK_LIMIT);
    gc_init(board_heap, (uint8_t *)board_heap + sizeof(board_heap));
    for (;;) {
        mp_init();
        for (;;) {
            if (pyexec_mode_kind == PYEXEC_MODE_RAW_REPL) {
                if (pyexec_raw_repl() != 0) {
                    break;
                }
            } else {
                if (pyexec_friendly_repl() != 0) {
                    break;
                }
            }
        }
        mp_printf(&mp_plat_print, "MPY: soft reboot\n");
        gc_sweep_all();
        mp_deinit();
    }
}

// Native code (try blocks in @micropython.native/viper functions) would call
// setjmp through a function pointer; the builtin used for NLR cannot be one.
// Such code stops the emulator with a message instead of misbehaving.
// Native .mpy modules that only raise (like _llm) never get here.
#undef setjmp
int setjmp(jmp_buf buf) {
    (void)buf;
    static const char msg[] = "FATAL: try/except in native code is not supported on s3sim\n";
    mp_hal_stdout_tx_strn(msg, sizeof(msg) - 1);
    sim_call(SIM_EXIT, 3, 0, 0);
    for (;;) {
    }
}

// Only reached by a failed assertion in code built without NDEBUG.
void __assert_func(const char *file, int line, const char *func, const char *expr) {
    mp_printf(&mp_plat_print, "assertion \"%s\" failed: %s:%d\n", expr, file, line);
    sim_call(SIM_EXIT, 2, 0, 0);
    for (;;) {
    }
}

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    uintptr_t ret = 0;
    s3sim_poll_console();
    if ((poll_flags & MP_STREAM_POLL_RD) && board_rx_tail != board_rx_head) {
        ret |= MP_STREAM_POLL_RD;
    }
    if (poll_flags & MP_STREAM_POLL_WR) {
        ret |= MP_STREAM_POLL_WR;
    }
    return ret;
}

// The float helpers that lib/libm leaves to the C library (there is none).
float fabsf(float x) {
    union { float f; uint32_t u; } v = { x };
    v.u &= 0x7fffffffu;
    return v.f;
}

float copysignf(float x, float y) {
    union { float f; uint32_t u; } a = { x }, b = { y };
    a.u = (a.u & 0x7fffffffu) | (b.u & 0x80000000u);
    return a.f;
}

float nanf(const char *tag) {
    (void)tag;
    union { uint32_t u; float f; } v = { 0x7fc00000u };
    return v.f;
}
