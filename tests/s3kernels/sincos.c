/* GCC merges sinf(x) and cosf(x) of one x into sincosf, which MicroPython's
 * libm does not have; both builds of the harness link this one. */
float sinf(float x);
float cosf(float x);
void sincosf(float x, float *s, float *c);

void sincosf(float x, float *s, float *c) {
    *s = sinf(x);
    *c = cosf(x);
}
