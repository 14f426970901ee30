#include <stddef.h>
#include "parallel.h"

// Below this many multiply-adds a hand-off to the other core costs more than
// it saves (a wake-up is a few microseconds; a 64x64 matmul is about two).
#define LLM_PARALLEL_MIN_WORK (32 * 1024L)

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

#if defined(UNIX) && !defined(LLM_NO_THREADS)
// ---- pthreads: the unix firmware, where the split logic is tested ----
#include <pthread.h>

static pthread_t worker;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static llm_job_fn pending_fn;
static void *pending_job;
static int pending_start, pending_end;
static int busy, quit;

static void *worker_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!busy && !quit) {
            pthread_cond_wait(&wake, &lock);
        }
        if (quit) {
            break;
        }
        pthread_mutex_unlock(&lock);
        pending_fn(pending_job, pending_start, pending_end);
        pthread_mutex_lock(&lock);
        busy = 0;
        pthread_cond_signal(&done);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int llm_worker_start(void) {
    quit = 0;
    busy = 0;
    return pthread_create(&worker, NULL, worker_main, NULL);
}

void llm_worker_stop(void) {
    pthread_mutex_lock(&lock);
    quit = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(worker, NULL);
}

void llm_worker_submit(llm_job_fn fn, void *job, int start, int end) {
    pthread_mutex_lock(&lock);
    pending_fn = fn;
    pending_job = job;
    pending_start = start;
    pending_end = end;
    busy = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void llm_worker_wait(void) {
    pthread_mutex_lock(&lock);
    while (busy) {
        pthread_cond_wait(&done, &lock);
    }
    pthread_mutex_unlock(&lock);
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
