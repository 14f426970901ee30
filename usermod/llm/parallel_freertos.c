// The FreeRTOS backend of parallel.h, for the ESP32-S3: MicroPython runs on
// core 1 and pins its threads there, so the second core is reached with a
// task of our own pinned to core 0.  Built by micropython.cmake only.
#if defined(ESP_PLATFORM)
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "parallel.h"

static TaskHandle_t worker;
static SemaphoreHandle_t wake, done;
static llm_job_fn pending_fn;
static void *pending_job;
static int pending_start, pending_end;
static volatile int quit;

static void worker_main(void *arg) {
    (void)arg;
    for (;;) {
        xSemaphoreTake(wake, portMAX_DELAY);
        if (quit) {
            break;
        }
        pending_fn(pending_job, pending_start, pending_end);
        xSemaphoreGive(done);
    }
    xSemaphoreGive(done);
    vTaskDelete(NULL);
}

int llm_worker_start(void) {
    wake = xSemaphoreCreateBinary();
    done = xSemaphoreCreateBinary();
    if (wake == NULL || done == NULL) {
        return -1;
    }
    quit = 0;
    // Priority just above idle: it only runs when handed work.
    if (xTaskCreatePinnedToCore(worker_main, "llm_core0", 4096, NULL, tskIDLE_PRIORITY + 2, &worker, 0) != pdPASS) {
        vSemaphoreDelete(wake);
        vSemaphoreDelete(done);
        return -1;
    }
    return 0;
}

void llm_worker_stop(void) {
    quit = 1;
    xSemaphoreGive(wake);
    xSemaphoreTake(done, portMAX_DELAY);
    vSemaphoreDelete(wake);
    vSemaphoreDelete(done);
}

void llm_worker_submit(llm_job_fn fn, void *job, int start, int end) {
    pending_fn = fn;
    pending_job = job;
    pending_start = start;
    pending_end = end;
    xSemaphoreGive(wake);
}

void llm_worker_wait(void) {
    xSemaphoreTake(done, portMAX_DELAY);
}
#endif
