#include <stddef.h>
#include "parallel.h"

// Below this many multiply-adds a hand-off to the other core costs more than
// it saves.  Host (pthreads): measured with make bench; splitting
// stories260K's 32K multiply-add matmuls made it slower, while stories15M's
// 83K and up gain.  The ESP-IDF firmware sets its own (FreeRTOS semaphores
// cost less than a pthread wake-up): sources.txt's defines_freertos, which
// the S3 time model reads too.
#if !defined(LLM_PARALLEL_MIN_WORK)
#define LLM_PARALLEL_MIN_WORK (64 * 1024L)
#endif

#if defined(LLM_NO_THREADS)
// Single-core builds, among them the native .mpy (usermod/natmod), where a
// module may not have initialised or static data: always one thread.
int llm_parallel_set_threads(int wanted) {
    (void)wanted;
    return 1;
}

int llm_parallel_threads(void) {
    return 1;
}

void llm_parallel_for(llm_job_fn fn, void *job, int n, long cost_per_item) {
    (void)cost_per_item;
    fn(job, 0, n);
}

#else
static int threads = 1;

int llm_parallel_set_threads(int wanted) {
    if (wanted >= 2 && threads < 2) {
        if (llm_worker_start() == 0) {
            threads = 2;
        }
    } else if (wanted < 2 && threads >= 2) {
        llm_worker_stop();
        threads = 1;
    }
    return threads;
}

int llm_parallel_threads(void) {
    return threads;
}

void llm_parallel_for(llm_job_fn fn, void *job, int n, long cost_per_item) {
    if (threads < 2 || n < 2 || (long)n * cost_per_item < LLM_PARALLEL_MIN_WORK) {
        fn(job, 0, n);
        return;
    }
    int half = n / 2;
    llm_worker_submit(fn, job, half, n);
    fn(job, 0, half);
    llm_worker_wait();
}
#endif

#if defined(UNIX) && !defined(LLM_NO_THREADS)
// ---- pthreads: the unix firmware, where the split logic is tested ----
// Hand-offs happen a few hundred times per token, so both sides spin briefly
// on an atomic before sleeping: a condition-variable wake-up alone costs more
// than a small matmul.
//
// Ctrl-C: the unix port raises KeyboardInterrupt from its SIGINT handler by
// a non-local jump out of whatever the interrupted thread runs.  Leaving a
// hand-off that way would leave `lock` held (both threads then wait on it
// for good) or the worker running a job on a stack frame that is gone.  So
// the worker never takes SIGINT (it blocks every signal), and the main
// thread holds SIGINT back from llm_worker_submit() until llm_worker_wait()
// has seen the job finish: a Ctrl-C in between is delivered, and jumps, only
// once the worker is idle again.
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#define SPINS (20000)

static pthread_t worker;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static llm_job_fn pending_fn;
static void *pending_job;
static int pending_start, pending_end;
static int busy, quit, sleeping;

// Sequentially consistent: "busy, then look for sleeping" on one side and
// "sleeping, then look for busy" on the other must not both miss.
static int load(int *p) {
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void store(int *p, int v) {
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static void *worker_main(void *arg) {
    (void)arg;
    for (;;) {
        for (int i = 0; i < SPINS && !load(&busy) && !load(&quit); i++) {
        }
        if (!load(&busy) && !load(&quit)) {
            pthread_mutex_lock(&lock);
            store(&sleeping, 1);
            while (!load(&busy) && !load(&quit)) {
                pthread_cond_wait(&wake, &lock);
            }
            store(&sleeping, 0);
            pthread_mutex_unlock(&lock);
        }
        if (load(&quit)) {
            return NULL;
        }
        pending_fn(pending_job, pending_start, pending_end);
        store(&busy, 0);
    }
}

// The caller's signal mask while SIGINT is held back (main thread only).
static sigset_t saved_mask;

static void hold_interrupts(void) {
    sigset_t sigint;
    sigemptyset(&sigint);
    sigaddset(&sigint, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigint, &saved_mask);
}

// A Ctrl-C that came meanwhile is delivered here, and may jump from here.
static void release_interrupts(void) {
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
}

int llm_worker_start(void) {
    store(&quit, 0);
    store(&busy, 0);
    // The worker inherits a mask that blocks every signal, so that the
    // process's signals (Ctrl-C among them) always go to the main thread.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = pthread_create(&worker, NULL, worker_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

static void signal_worker(void) {
    pthread_mutex_lock(&lock);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void llm_worker_stop(void) {
    hold_interrupts();
    store(&quit, 1);
    signal_worker();
    pthread_join(worker, NULL);
    release_interrupts();
}

// Holds SIGINT back until the matching llm_worker_wait().
void llm_worker_submit(llm_job_fn fn, void *job, int start, int end) {
    hold_interrupts();
    pending_fn = fn;
    pending_job = job;
    pending_start = start;
    pending_end = end;
    store(&busy, 1);
    if (load(&sleeping)) {
        signal_worker();
    }
}

void llm_worker_wait(void) {
    for (int i = 0; load(&busy); i++) {
        if (i >= SPINS) {
            sched_yield();  // the worker may be waiting for this core
        }
    }
    release_interrupts();
}

#elif !defined(ESP_PLATFORM)
// ---- serial: no second core (qemu, natmod builds) ----

int llm_worker_start(void) {
    return -1;
}

void llm_worker_stop(void) {
}

void llm_worker_submit(llm_job_fn fn, void *job, int start, int end) {
    fn(job, start, end);
}

void llm_worker_wait(void) {
}
#endif
