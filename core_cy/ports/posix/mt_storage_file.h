/* microtrain storage backend over a POSIX file: one background thread serves
 * reads (pread into the arena) and write-backs (pwrite from a staging copy)
 * in the order they were submitted, so every read sees every earlier write.
 * A write returns once its bytes are copied out of the arena (the schedule may
 * reuse them at once); the file gets them later. All state lives in the
 * caller's struct but the staging buffer (allocated at open); rings are fixed. */
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
    uint32_t seq;       /* submission order across reads and writes */
} mt_file_request;

/* Write-backs queued at most; one more waits for the oldest to land. */
#define MT_FILE_WRITE_CAP 256u
/* Staging bytes for write-backs in flight; a bigger write is done in place. */
#define MT_FILE_STAGING_BYTES (4u << 20)

typedef struct {
    uint32_t flash_offset;
    uint32_t staged;    /* offset in the staging buffer */
    uint32_t nbytes;
    uint32_t seq;
} mt_file_write;

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
    mt_file_write writes[MT_FILE_WRITE_CAP];
    uint32_t writes_submitted;  /* counters as above: completed <= submitted */
    uint32_t writes_completed;
    uint8_t *staging;           /* bump-allocated, reset when no write-back is queued */
    uint32_t staging_bytes;     /* min(file size, MT_FILE_STAGING_BYTES) */
    uint32_t staging_used;
    uint32_t next_seq;
    int write_error;            /* a write-back failed: every later call fails */
    int stopping;
} mt_storage_file;

/* Opens (creating, and extending to `size` bytes) the file and starts the
 * I/O thread. Returns 0 or -1 (errno set). */
int mt_storage_file_open(mt_storage_file *f, const char *path, uint32_t size);
/* Waits for reads and write-backs in flight, stops the thread, closes the file. */
void mt_storage_file_close(mt_storage_file *f);
/* Waits until every submitted read and write-back has landed and releases
 * the read slots (after an iteration, or an aborted one). Returns -1 if any
 * unwaited read or any write-back failed. */
int mt_storage_file_drain(mt_storage_file *f);
/* The mt_storage interface with ctx = f. */
mt_storage mt_storage_file_interface(mt_storage_file *f);

#endif
