// Board support for the qemu board (MicroPython qemu port, machine mps2-an385).
//
// - ROMFS partition and littlefs RAM disk: boards/common/board_storage.c, on
//   the regions of mps2_an385.ld.
// - UART0 RX interrupt: received bytes go into a ring buffer; Ctrl-C (the
//   interrupt char, set while code runs) raises KeyboardInterrupt instead.
// - SysTick time base for the time module; wall-clock from the host via
//   semihosting.
//
// The storage regions are in RAMs that the startup code never clears (PSRAM
// and SSRAM2/3, see mps2_an385.ld), so their contents survive a soft reset
// (not a restart of qemu).

#include <string.h>

#include "py/runtime.h"
#include "py/mphal.h"
#include "py/stackctrl.h"
#include "shared/readline/readline.h"
#include "shared/runtime/interrupt_char.h"
#include "shared/timeutils/timeutils.h"
#include "uart.h"
#include "board_storage.h"

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
    board_storage_mount_ramdisk();
}
