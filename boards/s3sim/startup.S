/* Reset, vectors and C start for QEMU's `sim` machine with the esp32s3 core.
 *
 * The CPU starts at the reset vector 0x50000000 whatever the ELF entry is,
 * so .reset (placed there by s3sim.ld) only jumps to _start.  VECBASE is
 * pointed at .vectors: the register-window spill/fill handlers (their code is
 * fixed by the Xtensa windowed ABI) and the exception vectors.  Nothing here
 * takes interrupts: the emulated core has no timer or UART interrupt, and
 * PS.INTLEVEL stays at 15.
 */
#define PS_WOE      (1 << 18)
#define PS_UM       (1 << 5)
#define SIM_EXIT    1
#define SIM_WRITE   4

    .section .reset, "ax"
    .global s3sim_reset
s3sim_reset:
    j       1f
    .align  4
2:  .word   _start
1:  l32r    a2, 2b
    jx      a2

/* The register-window handlers at their fixed offsets (window_vectors.S). */
    .section .vectors, "ax"
    .global s3sim_vectors
    .align  4
s3sim_vectors:
#include "window_vectors.S"

    /* Apart from movsp's Alloca exception, any exception is fatal here (no
     * interrupts, no MMU): report it on the console and end qemu with
     * 64 + EXCCAUSE. */
    .org    0x300               /* kernel */
    j       s3sim_fatal
    .org    0x340               /* user */
    wsr.excsave1 a0
    rsr.exccause a0
    bnei    a0, 5, 1f           /* 5: AllocaCause */
    j       s3sim_alloca
1:  j       s3sim_fatal
    .org    0x3c0               /* double */
    j       s3sim_fatal
    .org    0x400

    /* Within reach of the vectors' j, so in the same section. */
    .literal_position

/* alloca (GCC's `movsp sp, aN`) raises AllocaCause when the caller's frame
 * is no longer in the register file: its spilled a0-a3 sit below the old
 * stack pointer, where a later underflow would not look.  Reload the caller
 * through the underflow handler that matches its call size (from our a0's
 * top bits), with PS.OWB set so that its rfwu returns to our window; movsp
 * is then retried with the caller live, and a later spill uses the new sp. */
    .align  4
s3sim_alloca:
    rsr.windowbase a0
    rotw    -1                  /* our a0 (now WINDOWBASE) is a4, a0-a3 free */
    rsr.ps  a2
    extui   a3, a2, 8, 4        /* PS.OWB */
    xor     a3, a3, a4
    rsr.excsave1 a4             /* our a0 back in place */
    slli    a3, a3, 8
    xor     a2, a2, a3          /* PS.OWB = our WINDOWBASE */
    wsr.ps  a2
    rsync
    bbci.l  a4, 31, 4f          /* called by call4 */
    rotw    -1                  /* our a0 is a8 */
    bbci.l  a8, 30, 8f          /* call8 */
    rotw    -1
    j       s3sim_underflow12
4:  j       s3sim_underflow4
8:  j       s3sim_underflow8

    .align  4
s3sim_fatal:
    rsr.exccause a6
    rsr.epc1    a7
    rsr.excvaddr a8
    movi    a9, s3sim_fatal_regs
    s32i    a6, a9, 0
    s32i    a7, a9, 4
    s32i    a8, a9, 8
    /* print "\nFATAL EXCCAUSE EPC1 EXCVADDR" as hex words */
    movi    a2, SIM_WRITE
    movi    a3, 2
    movi    a4, s3sim_fatal_msg
    movi    a5, 7
    simcall
    movi    a12, 0              /* word index */
3:  movi    a9, s3sim_fatal_regs
    addx4   a9, a12, a9
    l32i    a9, a9, 0
    movi    a10, s3sim_fatal_hex + 8
    movi    a11, 8
4:  extui   a13, a9, 0, 4
    movi    a14, 10
    blt     a13, a14, 5f
    addi    a13, a13, 'a' - '0' - 10
5:  addi    a13, a13, '0'
    addi    a10, a10, -1
    s8i     a13, a10, 0
    srli    a9, a9, 4
    addi    a11, a11, -1
    bnez    a11, 4b
    movi    a2, SIM_WRITE
    movi    a3, 2
    movi    a4, s3sim_fatal_hex
    movi    a5, 10
    simcall
    addi    a12, a12, 1
    movi    a13, 3
    blt     a12, a13, 3b
    movi    a2, SIM_WRITE
    movi    a3, 2
    movi    a4, s3sim_fatal_nl
    movi    a5, 1
    simcall
    movi    a2, SIM_EXIT
    movi    a9, s3sim_fatal_regs
    l32i    a3, a9, 0
    addi    a3, a3, 64
    simcall
6:  j       6b

    .text
    .global _start
    .align  4
_start:
    movi    a0, 0
    movi    a2, s3sim_vectors
    wsr.vecbase a2
    movi    a2, 0x09            /* coprocessors: CP0 = FPU, CP3 = PIE (SIMD) */
    wsr.cpenable a2
    movi    a2, 0
    wsr.windowbase a2
    rsync
    movi    a2, 1
    wsr.windowstart a2
    movi    a1, _stack_top
    movi    a2, PS_WOE | PS_UM | 0xf
    wsr.ps  a2
    rsync
    movi    a2, _bss_start
    movi    a3, _bss_end
    movi    a4, 0
7:  bgeu    a2, a3, 8f
    s32i    a4, a2, 0
    addi    a2, a2, 4
    j       7b
8:  call4   s3sim_main          /* never returns; call4 so that spilling this
                                   frame needs no caller save area */
9:  j       9b

    .section .rodata
s3sim_fatal_msg:
    .ascii  "\nFATAL "
s3sim_fatal_nl:
    .ascii  "\n"
    .data
    .align  4
s3sim_fatal_regs:
    .space  12
s3sim_fatal_hex:
    .ascii  "00000000  "
