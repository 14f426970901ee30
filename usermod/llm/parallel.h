// Splitting work across the chip's two cores.  The caller runs one share
// and a worker on the other core runs the other; each output element is
// computed by the same code either way, so results are bit-identical to a
// single-core run.  Backends: FreeRTOS on esp32 (parallel_freertos.c),
// pthreads on the unix firmware, serial elsewhere.
#ifndef LLM_PARALLEL_H
#define LLM_PARALLEL_H

// Work on items [start, end) of a job.
typedef void (*llm_job_fn)(void *job, int start, int end);

// Run fn over [0, n), split in two when a worker is running and the job is
// worth it (work = n * cost per item, in multiply-adds).  Blocks until done.
void llm_parallel_for(llm_job_fn fn, void *job, int n, long cost_per_item);

// Ask for 1 or 2 threads of work; returns what is in effect (1 where the
// platform has no second core or thread).
int llm_parallel_set_threads(int threads);
int llm_parallel_threads(void);

// Backend interface, implemented once per platform.  submit and wait come
// in pairs: the job struct must stay valid until wait returns, and a backend
// whose platform interrupts by a non-local jump (the unix port's Ctrl-C)
// holds interrupts back in between.
int llm_worker_start(void);                       // 0 on success
void llm_worker_stop(void);
void llm_worker_submit(llm_job_fn fn, void *job, int start, int end);
void llm_worker_wait(void);

#endif
