/* microtrain storage backend over a POSIX file: reads run on a background
 * thread (pread into the arena), writes are synchronous pwrite.
 * All state lives in the caller's struct; the request ring is fixed size. */
#ifndef MT_STORAGE_FILE_H
#define MT_STORAGE_FILE_H

#include <pthread.h>
#include <stdint.h>
#include "mt_swap.h"

/* Requests the FIFO ring holds: a slot frees once every earlier read was waited
 * for, so a long prefetch holds slots behind it (SwapRuntime checks schedules). */
#define MT_FILE_QUEUE_CAP MT_SWAP_MAX_READS_QUEUED

typedef struct {
    uint32_t flash_offset;
    uint8_t *dst;
    uint32_t nbytes;
    uint16_t tag;
    uint8_t waited;     /* read_wait returned for it: the slot may be reused */
    int status;         /* 0 once read, -1 on I/O error */
} mt_file_request;

typedef struct {
    int fd;
    uint32_t size;
    pthread_t worker;
    pthread_mutex_t lock;
    pthread_cond_t queued;      /* signalled when a request is added or on close */
    pthread_cond_t done;        /* signalled when a request completes */
    mt_file_request ring[MT_FILE_QUEUE_CAP];
    /* Monotonic counters; slot = counter % CAP.
       released <= completed <= submitted, submitted - released <= CAP. */
    uint32_t submitted;
    uint32_t completed;
    uint32_t released;
    int stopping;
} mt_storage_file;

/* Opens (creating, and extending to `size` bytes) the file and starts the
 * reader thread. Returns 0 or -1 (errno set). */
int mt_storage_file_open(mt_storage_file *f, const char *path, uint32_t size);
/* Waits for reads in flight, stops the thread, closes the file. */
void mt_storage_file_close(mt_storage_file *f);
/* Waits until every submitted read has landed and releases their slots
 * (e.g. after an aborted iteration). Returns -1 if any of them failed. */
int mt_storage_file_drain(mt_storage_file *f);
/* The mt_storage interface with ctx = f. */
mt_storage mt_storage_file_interface(mt_storage_file *f);

#endif
