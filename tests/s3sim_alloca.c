// A bare-metal check of boards/s3sim/startup.S on the emulated S3 core
// (tests/test_s3.py builds and runs it): an alloca after a call chain deep
// enough to spill the caller's frame makes movsp raise the Alloca exception;
// the handler must reload the caller so that values live across it survive.
// Prints PASS and exits 0, or FAIL / a FATAL exception report.
#include <alloca.h>
#include <stdint.h>
static int sim(int nr, int a, int b, int c) {
    register int a2 __asm__("a2") = nr; register int a3 __asm__("a3") = a;
    register int a4 __asm__("a4") = b; register int a5 __asm__("a5") = c;
    __asm__ volatile("simcall" : "+r"(a2), "+r"(a3) : "r"(a4), "r"(a5) : "memory");
    return a2;
}
__attribute__((noinline)) int deep(volatile int n) { return n ? deep(n - 1) + 1 : 0; }
volatile int sink;
__attribute__((noinline)) int user(int n, int k) {
    int before = k * 3 + 1;          /* live across the spill and the alloca */
    int d = deep(20);                /* spills every older frame, ours too */
    /* Sized by d, so that movsp comes after the spill, with caller() still spilled. */
    volatile char *p = alloca(n + d - 20);
    for (int i = 0; i < n; i++) p[i] = (char)i;
    int s = 0;
    for (int i = 0; i < n; i++) s += p[i];
    return s + d + before;
}
__attribute__((noinline)) int caller(int n) {
    int mark = 12345;
    int r = user(n, 7);
    return r + (mark == 12345 ? 0 : 1000000);
}
void s3sim_main(void) {
    int r = caller(100);
    int want = 4950 + 20 + 22;
    sim(4, 1, (int)(r == want ? "PASS\n" : "FAIL\n"), 5);
    sim(1, r == want ? 0 : 1, 0, 0);
}
