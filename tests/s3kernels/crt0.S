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
    .org 0x000
_ov4:
    s32e  a0, a5, -16
    s32e  a1, a5, -12
    s32e  a2, a5, -8
    s32e  a3, a5, -4
    rfwo
    .org 0x040
_un4:
    l32e  a0, a5, -16
    l32e  a1, a5, -12
    l32e  a2, a5, -8
    l32e  a3, a5, -4
    rfwu
    .org 0x080
_ov8:
    s32e  a0, a9, -16
    l32e  a0, a1, -12
    s32e  a1, a9, -12
    s32e  a2, a9, -8
    s32e  a3, a9, -4
    s32e  a4, a0, -32
    s32e  a5, a0, -28
    s32e  a6, a0, -24
    s32e  a7, a0, -20
    rfwo
    .org 0x0C0
_un8:
    l32e  a1, a9, -12
    l32e  a0, a9, -16
    l32e  a7, a1, -12
    l32e  a2, a9, -8
    l32e  a4, a7, -32
    l32e  a3, a9, -4
    l32e  a5, a7, -28
    l32e  a6, a7, -24
    l32e  a7, a7, -20
    rfwu
    .org 0x100
_ov12:
    s32e  a0, a13, -16
    l32e  a0, a1, -12
    s32e  a1, a13, -12
    s32e  a2, a13, -8
    s32e  a3, a13, -4
    s32e  a4, a0, -48
    s32e  a5, a0, -44
    s32e  a6, a0, -40
    s32e  a7, a0, -36
    s32e  a8, a0, -32
    s32e  a9, a0, -28
    s32e  a10, a0, -24
    s32e  a11, a0, -20
    rfwo
    .org 0x140
_un12:
    l32e  a1, a13, -12
    l32e  a0, a13, -16
    l32e  a11, a1, -12
    l32e  a2, a13, -8
    l32e  a4, a11, -48
    l32e  a8, a11, -32
    l32e  a3, a13, -4
    l32e  a5, a11, -44
    l32e  a6, a11, -40
    l32e  a7, a11, -36
    l32e  a9, a11, -28
    l32e  a10, a11, -24
    l32e  a11, a11, -20
    rfwu
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
