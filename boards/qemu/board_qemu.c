// Board support for the qemu board (MicroPython qemu port, machine mps2-an385).
//
// - ROMFS partition: a fixed RAM region outside the GC heap, served through
//   vfs.rom_ioctl like a memory-mapped flash partition (mp_init() mounts it
//   at /rom when it holds a valid image).
// - RAM disk with littlefs2, mounted at / on every boot/soft reset.
// - UART0 RX interrupt: received bytes go into a ring buffer; Ctrl-C (the
//   interrupt char, set while code runs) raises KeyboardInterrupt instead.
// - SysTick time base for the time module; wall-clock from the host via
//   semihosting.
//
// Both regions are in RAMs that the startup code never clears (PSRAM and
// SSRAM2/3, see mps2_an385.ld), so their contents survive a soft reset (not a
// restart of qemu).

#include <string.h>

#include "py/runtime.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "py/stackctrl.h"
#include "extmod/vfs.h"
#include "extmod/vfs_lfs.h"
#include "shared/readline/readline.h"
#include "shared/runtime/interrupt_char.h"
#include "shared/timeutils/timeutils.h"
#include "uart.h"

// Regions defined by the linker script.
extern uint8_t _board_romfs_start[], _board_romfs_size[];
extern uint8_t _board_ramdisk_start[], _board_ramdisk_size[];
#define ROMFS_BASE (_board_romfs_start)
#define ROMFS_BYTES ((size_t)(uintptr_t)_board_romfs_size)
#define RAMDISK_BASE (_board_ramdisk_start)
#define RAMDISK_BYTES ((size_t)(uintptr_t)_board_ramdisk_size)

// Erase granularity of the emulated flash, and block size of the RAM disk
// (the ESP32 flash sector size).
#define BOARD_SECTOR_BYTES (4096)

// Same recursion budget as the ESP32 port: 16 KB task stack minus 1 KB margin.
#define BOARD_STACK_LIMIT (15 * 1024)

/******************************************************************************/
// Cortex-M3 and MPS2 peripherals.

#define BOARD_CPU_HZ (25000000) // mps2-an385 system clock, drives SysTick

#define SCB_VTOR (*(volatile uint32_t *)0xe000ed08)
#define NVIC_ISER0 (*(volatile uint32_t *)0xe000e100)
#define SYST_CSR (*(volatile uint32_t *)0xe000e010)
#define SYST_RVR (*(volatile uint32_t *)0xe000e014)
#define SYST_CVR (*(volatile uint32_t *)0xe000e018)
#define SYST_CSR_ENABLE (1 << 0)
#define SYST_CSR_TICKINT (1 << 1)
#define SYST_CSR_CLKSOURCE (1 << 2)

// CMSDK APB UART, UART0 is the console (its RX interrupt is IRQ 0).
typedef struct {
    volatile uint32_t DATA;
    volatile uint32_t STATE;
    volatile uint32_t CTRL;
    volatile uint32_t INTSTATUS; // write 1 to clear
    volatile uint32_t BAUDDIV;
} board_uart_t;
#define BOARD_UART0 ((board_uart_t *)0x40004000)
#define BOARD_UART_STATE_RXFULL (1 << 1)
#define BOARD_UART_CTRL_RX_INTEN (1 << 3)
#define BOARD_UART_INT_RX (1 << 1)
#define BOARD_UART0_RX_IRQ (0)

#define BOARD_NUM_IRQ (32)

static inline void board_irq_disable(void) {
    __asm volatile ("cpsid i" ::: "memory");
}

static inline void board_irq_enable(void) {
    __asm volatile ("cpsie i" ::: "memory");
}

// The port's startup code has a vector table with the 16 system exceptions
// only; run from a copy in RAM that also has the device interrupts.
static uint32_t board_vectors[16 + BOARD_NUM_IRQ] __attribute__((aligned(256)));

/******************************************************************************/
// Time.

static volatile uint32_t board_ticks_ms;
static uint32_t board_boot_seconds_1970; // host time at boot, via semihosting

static void board_systick_handler(void) {
    board_ticks_ms += 1;
}

// Semihosting SYS_TIME: seconds since 1970 on the host.
static uint32_t board_semihosting_time(void) {
    register uint32_t r0 __asm__ ("r0") = 0x11;
    register uint32_t r1 __asm__ ("r1") = 0;
    __asm volatile ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    return r0;
}

// Milliseconds and SysTick count, read consistently.
static uint32_t board_ticks(uint32_t *sub) {
    uint32_t ms, cvr;
    do {
        ms = board_ticks_ms;
        cvr = SYST_CVR;
    } while (ms != board_ticks_ms);
    *sub = SYST_RVR - cvr; // CPU cycles elapsed in the current millisecond
    return ms;
}

mp_uint_t mp_hal_ticks_ms(void) {
    return board_ticks_ms;
}

mp_uint_t mp_hal_ticks_us(void) {
    uint32_t sub;
    uint32_t ms = board_ticks(&sub);
    return ms * 1000 + sub / (BOARD_CPU_HZ / 1000000);
}

mp_uint_t mp_hal_ticks_cpu(void) {
    uint32_t sub;
    uint32_t ms = board_ticks(&sub);
    return ms * (BOARD_CPU_HZ / 1000) + sub;
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint32_t start = board_ticks_ms;
    while (board_ticks_ms - start < ms) {
        mp_handle_pending(true); // so Ctrl-C interrupts time.sleep()
        __asm volatile ("wfi"); // SysTick wakes us at least every 1 ms
    }
}

void mp_hal_delay_us(mp_uint_t us) {
    uint32_t start = mp_hal_ticks_us();
    while (mp_hal_ticks_us() - start < us) {
    }
}

// Nanoseconds since the MicroPython epoch (2000-01-01).
uint64_t mp_hal_time_ns(void) {
    uint32_t sub;
    uint32_t ms = board_ticks(&sub);
    uint64_t s = (uint64_t)board_boot_seconds_1970 - TIMEUTILS_SECONDS_1970_TO_2000;
    return s * 1000000000ULL + (uint64_t)ms * 1000000ULL + (uint64_t)sub * (1000000000ULL / BOARD_CPU_HZ);
}

/******************************************************************************/
// Console input: UART0 RX interrupt and ring buffer.

#define BOARD_RX_BUF_SIZE (512)
static uint8_t board_rx_buf[BOARD_RX_BUF_SIZE];
static volatile uint32_t board_rx_head; // written by the interrupt handler
static volatile uint32_t board_rx_tail; // written by the reader

// Handle one received byte; returns false if it was consumed as Ctrl-C.
static bool board_rx_is_data(int c) {
    if (c == mp_interrupt_char) {
        mp_sched_keyboard_interrupt();
        return false;
    }
    return true;
}

static void board_uart0_rx_handler(void) {
    BOARD_UART0->INTSTATUS = BOARD_UART_INT_RX;
    while (BOARD_UART0->STATE & BOARD_UART_STATE_RXFULL) {
        uint32_t next = (board_rx_head + 1) % BOARD_RX_BUF_SIZE;
        if (next == board_rx_tail) {
            // Buffer full: leave the byte in the UART, which holds back
            // further input; the reader picks it up once the buffer is empty.
            break;
        }
        int c = BOARD_UART0->DATA & 0xff;
        if (board_rx_is_data(c)) {
            board_rx_buf[board_rx_head] = c;
            board_rx_head = next;
        }
    }
}

// The port's mp_hal_stdin_rx_chr() polls uart_rx_chr() until it returns a
// byte; the linker routes those calls here (-Wl,--wrap=uart_rx_chr).
int __wrap_uart_rx_chr(void) {
    int c = UART_RX_NO_CHAR;
    board_irq_disable();
    if (board_rx_tail != board_rx_head) {
        c = board_rx_buf[board_rx_tail];
        board_rx_tail = (board_rx_tail + 1) % BOARD_RX_BUF_SIZE;
    } else if (BOARD_UART0->STATE & BOARD_UART_STATE_RXFULL) {
        // A byte held back while the buffer was full, or that arrived before
        // the interrupt was enabled (then no interrupt is raised for it).
        c = BOARD_UART0->DATA & 0xff;
        if (!board_rx_is_data(c)) {
            c = UART_RX_NO_CHAR;
        }
    } else {
        // Sleep until an interrupt (RX or SysTick) is pending; it is taken
        // once interrupts are enabled again.
        __asm volatile ("wfi");
    }
    board_irq_enable();
    if (c == UART_RX_NO_CHAR) {
        // While code runs (e.g. input()), Ctrl-C raises KeyboardInterrupt here.
        mp_handle_pending(true);
    }
    return c;
}

/******************************************************************************/
// ROMFS partition, exposed through vfs.rom_ioctl.

static const MP_DEFINE_MEMORYVIEW_OBJ(board_romfs_obj, 'B', 0, (size_t)(uintptr_t)_board_romfs_size, _board_romfs_start);

// Checks that [offset, offset + len) lies within the partition.
static bool board_romfs_range_ok(mp_int_t offset, mp_int_t len) {
    return offset >= 0 && len >= 0 && (size_t)offset <= ROMFS_BYTES && (size_t)len <= ROMFS_BYTES - (size_t)offset;
}

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    mp_int_t cmd = mp_obj_get_int(args[0]);
    if (cmd == MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS) {
        return MP_OBJ_NEW_SMALL_INT(1);
    }
    // All other commands act on a segment, and there is only segment 0.
    if (n_args < 2 || mp_obj_get_int(args[1]) != 0) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    switch (cmd) {
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            return MP_OBJ_FROM_PTR(&board_romfs_obj);

        case MP_VFS_ROM_IOCTL_WRITE_PREPARE: {
            // rom_ioctl(3, id, len), or rom_ioctl(3, id, offset, len) as sent
            // by newer mpremote versions. "Erase" whole sectors to 0xff.
            if (n_args < 3) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_int_t offset = n_args >= 4 ? mp_obj_get_int(args[2]) : 0;
            mp_int_t len = mp_obj_get_int(args[n_args >= 4 ? 3 : 2]);
            if (!board_romfs_range_ok(offset, len) || offset % BOARD_SECTOR_BYTES != 0) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            len = (len + BOARD_SECTOR_BYTES - 1) / BOARD_SECTOR_BYTES * BOARD_SECTOR_BYTES;
            if ((size_t)(offset + len) > ROMFS_BYTES) {
                len = ROMFS_BYTES - offset;
            }
            memset(ROMFS_BASE + offset, 0xff, len);
            return MP_OBJ_NEW_SMALL_INT(4); // minimum write size
        }

        case MP_VFS_ROM_IOCTL_WRITE: {
            // rom_ioctl(4, id, offset, buf)
            if (n_args < 4) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_int_t offset = mp_obj_get_int(args[2]);
            mp_buffer_info_t bufinfo;
            mp_get_buffer_raise(args[3], &bufinfo, MP_BUFFER_READ);
            if (!board_romfs_range_ok(offset, bufinfo.len)) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            memcpy(ROMFS_BASE + offset, bufinfo.buf, bufinfo.len);
            return MP_OBJ_NEW_SMALL_INT(0);
        }

        case MP_VFS_ROM_IOCTL_WRITE_COMPLETE:
            return MP_OBJ_NEW_SMALL_INT(0);

        default:
            return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
}

/******************************************************************************/
// RAM disk block device (block protocol with the extended interface).

typedef struct _board_ramdisk_obj_t {
    mp_obj_base_t base;
} board_ramdisk_obj_t;

// readblocks/writeblocks(self, block_num, buf[, offset])
static mp_obj_t board_ramdisk_rw(size_t n_args, const mp_obj_t *args, bool write) {
    mp_uint_t block = mp_obj_get_int(args[1]);
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(args[2], &bufinfo, write ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    mp_uint_t offset = n_args >= 4 ? mp_obj_get_int(args[3]) : 0;
    uint64_t addr = (uint64_t)block * BOARD_SECTOR_BYTES + offset;
    if (addr > RAMDISK_BYTES || bufinfo.len > RAMDISK_BYTES - addr) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
    }
    if (write) {
        memcpy(RAMDISK_BASE + addr, bufinfo.buf, bufinfo.len);
    } else {
        memcpy(bufinfo.buf, RAMDISK_BASE + addr, bufinfo.len);
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}

static mp_obj_t board_ramdisk_readblocks(size_t n_args, const mp_obj_t *args) {
    return board_ramdisk_rw(n_args, args, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(board_ramdisk_readblocks_obj, 3, 4, board_ramdisk_readblocks);

static mp_obj_t board_ramdisk_writeblocks(size_t n_args, const mp_obj_t *args) {
    return board_ramdisk_rw(n_args, args, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(board_ramdisk_writeblocks_obj, 3, 4, board_ramdisk_writeblocks);

static mp_obj_t board_ramdisk_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    (void)self_in;
    (void)arg_in;
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return MP_OBJ_NEW_SMALL_INT(RAMDISK_BYTES / BOARD_SECTOR_BYTES);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(BOARD_SECTOR_BYTES);
        case MP_BLOCKDEV_IOCTL_INIT:
        case MP_BLOCKDEV_IOCTL_DEINIT:
        case MP_BLOCKDEV_IOCTL_SYNC:
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE: // RAM needs no erase
            return MP_OBJ_NEW_SMALL_INT(0);
        default:
            return mp_const_none;
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(board_ramdisk_ioctl_obj, board_ramdisk_ioctl);

static const mp_rom_map_elem_t board_ramdisk_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&board_ramdisk_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&board_ramdisk_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&board_ramdisk_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(board_ramdisk_locals_dict, board_ramdisk_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    board_ramdisk_type,
    MP_QSTR_RAMDisk,
    MP_TYPE_FLAG_NONE,
    locals_dict, &board_ramdisk_locals_dict
    );

static const board_ramdisk_obj_t board_ramdisk_obj = { { &board_ramdisk_type } };

// Mount the RAM disk at / (formatting it first if it holds no filesystem).
// The VFS keeps a mount at / at the end of the mount table, so /rom (mounted
// after this by mp_init) stays reachable.
static void board_mount_ramdisk(void) {
    mp_obj_t bdev = MP_OBJ_FROM_PTR(&board_ramdisk_obj);
    mp_obj_t lfs2_type = MP_OBJ_FROM_PTR(&mp_type_vfs_lfs2);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t fs;
        nlr_buf_t nlr_mount;
        if (nlr_push(&nlr_mount) == 0) {
            fs = mp_call_function_1(lfs2_type, bdev);
            nlr_pop();
        } else {
            mp_call_function_1(mp_load_attr(lfs2_type, MP_QSTR_mkfs), bdev);
            fs = mp_call_function_1(lfs2_type, bdev);
        }
        mp_call_function_2(MP_OBJ_FROM_PTR(&mp_vfs_mount_obj), fs, MP_OBJ_NEW_QSTR(MP_QSTR__slash_));
        mp_obj_list_append(mp_sys_path, mp_obj_new_str("/lib", 4));
        nlr_pop();
    } else {
        mp_printf(&mp_plat_print, "board: could not mount the RAM disk at /\n");
        mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
    }
}

/******************************************************************************/
// Initialisation, called at the end of each mp_init().

static void board_init_once(void) {
    board_boot_seconds_1970 = board_semihosting_time();

    // Vector table in RAM with the board's SysTick and UART0 RX handlers.
    const uint32_t *rom_vectors = (const uint32_t *)SCB_VTOR;
    for (size_t i = 0; i < 16; ++i) {
        board_vectors[i] = rom_vectors[i];
    }
    for (size_t i = 16; i < MP_ARRAY_SIZE(board_vectors); ++i) {
        board_vectors[i] = rom_vectors[3]; // HardFault_Handler: unexpected IRQ
    }
    board_vectors[15] = (uint32_t)&board_systick_handler;
    board_vectors[16 + BOARD_UART0_RX_IRQ] = (uint32_t)&board_uart0_rx_handler;
    __asm volatile ("dsb" ::: "memory");
    SCB_VTOR = (uint32_t)&board_vectors[0];
    __asm volatile ("dsb\n isb" ::: "memory");

    // 1 kHz SysTick from the CPU clock.
    SYST_RVR = BOARD_CPU_HZ / 1000 - 1;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;

    // UART0 RX interrupt.
    BOARD_UART0->CTRL |= BOARD_UART_CTRL_RX_INTEN;
    NVIC_ISER0 = 1 << BOARD_UART0_RX_IRQ;
}

void board_init(void) {
    static bool initialised = false;
    if (!initialised) {
        board_init_once();
        initialised = true;
    }
    mp_stack_set_limit(BOARD_STACK_LIMIT);
    readline_init0();
    board_mount_ramdisk();
}
