// The target's facts every kernel file shares: whether this is the
// ESP32-S3's LX7 core (the build files define LLM_XTENSA_LX7 for it only:
// the ESP32's LX6 has no post-increment float loads and no PIE SIMD, the
// ESP8266's LX106 no FPU), and a float's bits and back.  Plain C.
#ifndef LLM_TARGET_H
#define LLM_TARGET_H

#include <stdint.h>
#include <string.h>

#if defined(__XTENSA__) && defined(LLM_XTENSA_LX7)
#define LLM_S3 (1)
#else
#define LLM_S3 (0)
#endif

#if LLM_S3
// Register to register: GCC for Xtensa goes through the stack for memcpy.
static inline uint32_t llm_fbits(float f) {
    uint32_t u;
    __asm__ ("rfr %0, %1" : "=r" (u) : "f" (f));
    return u;
}
static inline float llm_bitsf(uint32_t u) {
    float f;
    __asm__ ("wfr %0, %1" : "=f" (f) : "r" (u));
    return f;
}
#else
static inline uint32_t llm_fbits(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, sizeof(u));
    return u;
}
static inline float llm_bitsf(uint32_t u) {
    float f;
    __builtin_memcpy(&f, &u, sizeof(f));
    return f;
}
#endif

#endif
