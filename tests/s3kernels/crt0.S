/* Start-up code for the bare-metal kernel harness on QEMU's "-M sim -cpu esp32s3".
 *
 * Why each piece is here:
 * - QEMU resets the PC to the core's reset vector (0x50000000), not to the
 *   ELF entry, so .reset holds a jump to _start.
 * - The compiler uses the windowed ABI (call8/entry/retw): deep call chains
 *   spill register windows, which needs the overflow/underflow handlers at
 *   their fixed offsets from VECBASE.
 * - The FPU is coprocessor 0: without CPENABLE every float instruction traps.
 * - Exceptions are reported through semihosting and end the run with status
 *   64 + EXCCAUSE, so that a crash can never look like a pass.
 */
#define SYS_EXIT  1
#define SYS_WRITE 4

    .section .reset, "ax"
    .global _reset
_reset:
    j     .Lgo
    .align 4
.Lstart_addr:
    .word _start
.Lgo:
    l32r  a0, .Lstart_addr
    jx    a0

    .section .vectors, "ax"
    .global _vectors
    .align 4
_vectors:
    /* Window overflow/underflow for call4, call8, call12: each saves or
     * restores the base save area (a0-a3 below the callee's sp) and, for
     * call8/12, the extra registers in the caller's frame. */
#include "../../boards/s3sim/window_vectors.S"
    .org 0x300              /* kernel exception */
    j     _fatal
    .org 0x340              /* user exception */
    j     _fatal
    .org 0x3C0              /* double exception */
    j     _fatal
    .org 0x400

    .section .rodata
.Lmsg:
    .ascii "\nFATAL: exception, exit status is 64 + EXCCAUSE\n"
    .set .Lmsg_len, . - .Lmsg

    .text
    .align 4
_fatal:
    rsr.exccause a6
    movi  a2, SYS_WRITE
    movi  a3, 2
    movi  a4, .Lmsg
    movi  a5, .Lmsg_len
    simcall
    movi  a2, SYS_EXIT
    addi  a3, a6, 64
    simcall
1:  j     1b

    .global _start
    .align 4
_start:
    movi  a0, 0
    movi  a2, _vectors
    wsr.vecbase a2
    movi  a2, 0xff
    wsr.cpenable a2
    movi  a2, 0
    wsr.windowbase a2
    rsync
    movi  a2, 1
    wsr.windowstart a2
    movi  a1, _stack_top
    /* PS: window overflow exceptions on, user vector mode, interrupts masked */
    movi  a2, (1 << 18) | (1 << 5) | 15
    wsr.ps a2
    rsync
    movi  a2, _bss_start
    movi  a3, _bss_end
    movi  a4, 0
2:  bgeu  a2, a3, 3f
    s32i  a4, a2, 0
    addi  a2, a2, 4
    j     2b
3:  movi  a6, 0
    movi  a7, 0
    call4 main
    mov   a3, a6
    movi  a2, SYS_EXIT
    simcall
4:  j     4b
