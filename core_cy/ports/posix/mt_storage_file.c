/* File storage: one I/O thread serves a fixed ring of pread requests and a
 * ring of write-backs, oldest submission first. A write is copied into a
 * staging buffer and returns: the schedule may overwrite its arena bytes at
 * once, and a later read of the same flash bytes is served after it. */
#define _POSIX_C_SOURCE 200809L
#include "mt_storage_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int in_bounds(const mt_storage_file *f, uint32_t offset, uint32_t nbytes)
{
    return offset <= f->size && nbytes <= f->size - offset;
}

static int read_fully(int fd, uint8_t *dst, uint32_t nbytes, uint32_t offset)
{
    while (nbytes > 0) {
        ssize_t got = pread(fd, dst, nbytes, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;   /* error, or the file is shorter than planned */
        dst += got;
        offset += (uint32_t)got;
        nbytes -= (uint32_t)got;
    }
    return 0;
}

static int write_fully(int fd, const uint8_t *src, uint32_t nbytes, uint32_t offset)
{
    while (nbytes > 0) {
        ssize_t put = pwrite(fd, src, nbytes, (off_t)offset);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return -1;
        src += put;
        offset += (uint32_t)put;
        nbytes -= (uint32_t)put;
    }
    return 0;
}

static mt_file_request *slot(mt_storage_file *f, uint32_t counter)
{
    return &f->ring[counter % MT_FILE_QUEUE_CAP];
}

/* Counters wrap around: compare distances from `released`, never raw values. */
static int is_completed(const mt_storage_file *f, uint32_t counter)
{
    return (uint32_t)(counter - f->released) < (uint32_t)(f->completed - f->released);
}

static int reads_queued(const mt_storage_file *f) { return f->completed != f->submitted; }
static int writes_queued(const mt_storage_file *f) { return f->writes_completed != f->writes_submitted; }

/* Sequence numbers wrap too: a is older than b if b - a is "positive". */
static int older(uint32_t a, uint32_t b) { return (int32_t)(b - a) > 0; }

static int next_is_read(mt_storage_file *f)
{
    if (!writes_queued(f)) return 1;
    if (!reads_queued(f)) return 0;
    return older(slot(f, f->completed)->seq, f->writes[f->writes_completed % MT_FILE_WRITE_CAP].seq);
}

/* Called with the lock held; drops it around the I/O itself. */
static void serve_read(mt_storage_file *f)
{
    /* The slot's fields stay fixed until it is released, after completion. */
    mt_file_request *req = slot(f, f->completed);
    pthread_mutex_unlock(&f->lock);
    int status = read_fully(f->fd, req->dst, req->nbytes, req->flash_offset);
    pthread_mutex_lock(&f->lock);
    req->status = status;
    f->completed++;
}

static void serve_write(mt_storage_file *f)
{
    const mt_file_write *w = &f->writes[f->writes_completed % MT_FILE_WRITE_CAP];
    pthread_mutex_unlock(&f->lock);
    int status = write_fully(f->fd, f->staging + w->staged, w->nbytes, w->flash_offset);
    pthread_mutex_lock(&f->lock);
    if (status != 0) f->write_error = 1;
    f->writes_completed++;
    if (!writes_queued(f)) f->staging_used = 0;   /* nothing staged is pending any more */
}

static void *io_main(void *arg)
{
    mt_storage_file *f = (mt_storage_file *)arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->stopping && !reads_queued(f) && !writes_queued(f))
            pthread_cond_wait(&f->queued, &f->lock);
        if (!reads_queued(f) && !writes_queued(f)) break;   /* stopping, all done */
        if (next_is_read(f)) serve_read(f);
        else serve_write(f);
        pthread_cond_broadcast(&f->done);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* Index of the unwaited request with `tag`, or `submitted` if there is none. */
static uint32_t find_pending(const mt_storage_file *f, uint16_t tag)
{
    uint32_t i;
    for (i = f->released; i != f->submitted; i++) {
        const mt_file_request *req = &f->ring[i % MT_FILE_QUEUE_CAP];
        if (req->tag == tag && !req->waited) return i;
    }
    return f->submitted;
}

static void release_waited(mt_storage_file *f)
{
    while (f->released != f->completed && slot(f, f->released)->waited) f->released++;
}

static int file_read_start(void *ctx, uint32_t flash_offset, uint8_t *dst, uint32_t nbytes, uint16_t tag)
{
    mt_storage_file *f = (mt_storage_file *)ctx;
    int status = -1;
    if (!in_bounds(f, flash_offset, nbytes)) return -1;
    pthread_mutex_lock(&f->lock);
    /* A full ring of unwaited reads, or a tag reused before its wait, is a
       schedule bug: blocking here would deadlock, so report it. */
    if (!f->stopping && f->submitted - f->released < MT_FILE_QUEUE_CAP
        && find_pending(f, tag) == f->submitted) {
        mt_file_request *req = slot(f, f->submitted);
        req->flash_offset = flash_offset;
        req->dst = dst;
        req->nbytes = nbytes;
        req->tag = tag;
        req->waited = 0;
        req->status = 0;
        req->seq = f->next_seq++;
        f->submitted++;
        pthread_cond_signal(&f->queued);
        status = 0;
    }
    pthread_mutex_unlock(&f->lock);
    return status;
}

static int file_read_wait(void *ctx, uint16_t tag)
{
    mt_storage_file *f = (mt_storage_file *)ctx;
    int status = -1;
    pthread_mutex_lock(&f->lock);
    uint32_t index = find_pending(f, tag);
    if (index != f->submitted) {
        while (!is_completed(f, index)) pthread_cond_wait(&f->done, &f->lock);
        mt_file_request *req = slot(f, index);
        req->waited = 1;
        status = f->write_error ? -1 : req->status;
        release_waited(f);
    }
    pthread_mutex_unlock(&f->lock);
    return status;
}

static void wait_idle(mt_storage_file *f)
{
    while (reads_queued(f) || writes_queued(f)) pthread_cond_wait(&f->done, &f->lock);
}

/* Larger than the staging buffer: written in place once the thread is idle
 * (nothing older can then be reordered with it). Called with the lock held. */
static int write_in_place(mt_storage_file *f, uint32_t flash_offset, const uint8_t *src, uint32_t nbytes)
{
    wait_idle(f);
    pthread_mutex_unlock(&f->lock);
    int status = write_fully(f->fd, src, nbytes, flash_offset);
    pthread_mutex_lock(&f->lock);
    return status;
}

static int file_write(void *ctx, uint32_t flash_offset, const uint8_t *src, uint32_t nbytes)
{
    mt_storage_file *f = (mt_storage_file *)ctx;
    if (!in_bounds(f, flash_offset, nbytes)) return -1;
    int status = 0;
    pthread_mutex_lock(&f->lock);
    if (f->write_error || f->stopping) {
        status = -1;
    } else if (nbytes > f->staging_bytes) {
        status = write_in_place(f, flash_offset, src, nbytes);
    } else {
        while (f->writes_submitted - f->writes_completed >= MT_FILE_WRITE_CAP
               || nbytes > f->staging_bytes - f->staging_used)
            pthread_cond_wait(&f->done, &f->lock);   /* the thread frees both as it writes */
        mt_file_write *w = &f->writes[f->writes_submitted % MT_FILE_WRITE_CAP];
        w->flash_offset = flash_offset;
        w->staged = f->staging_used;
        w->nbytes = nbytes;
        w->seq = f->next_seq++;
        memcpy(f->staging + w->staged, src, nbytes);
        f->staging_used += nbytes;
        f->writes_submitted++;
        pthread_cond_signal(&f->queued);
    }
    pthread_mutex_unlock(&f->lock);
    return status;
}

static int extend_to(int fd, uint32_t size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    if ((uint64_t)st.st_size >= size) return 0;
    return ftruncate(fd, (off_t)size);
}

static int init_sync(mt_storage_file *f)
{
    if (pthread_mutex_init(&f->lock, NULL) != 0) return -1;
    if (pthread_cond_init(&f->queued, NULL) != 0) goto no_queued;
    if (pthread_cond_init(&f->done, NULL) != 0) goto no_done;
    return 0;
no_done:
    pthread_cond_destroy(&f->queued);
no_queued:
    pthread_mutex_destroy(&f->lock);
    return -1;
}

static void destroy_sync(mt_storage_file *f)
{
    pthread_cond_destroy(&f->done);
    pthread_cond_destroy(&f->queued);
    pthread_mutex_destroy(&f->lock);
}

int mt_storage_file_open(mt_storage_file *f, const char *path, uint32_t size)
{
    f->fd = open(path, O_RDWR | O_CREAT, 0644);
    if (f->fd < 0) return -1;
    f->size = size;
    f->submitted = f->completed = f->released = 0;
    f->writes_submitted = f->writes_completed = 0;
    f->staging_used = f->next_seq = 0;
    f->write_error = f->stopping = 0;
    f->staging_bytes = size < MT_FILE_STAGING_BYTES ? size : MT_FILE_STAGING_BYTES;
    f->staging = (uint8_t *)malloc(f->staging_bytes ? f->staging_bytes : 1u);
    if (!f->staging || extend_to(f->fd, size) != 0 || init_sync(f) != 0) {
        free(f->staging);
        close(f->fd);
        return -1;
    }
    if (pthread_create(&f->worker, NULL, io_main, f) != 0) {
        destroy_sync(f);
        free(f->staging);
        close(f->fd);
        return -1;
    }
    return 0;
}

int mt_storage_file_drain(mt_storage_file *f)
{
    int status = 0;
    pthread_mutex_lock(&f->lock);
    wait_idle(f);
    for (; f->released != f->submitted; f->released++) {
        mt_file_request *req = slot(f, f->released);
        if (!req->waited && req->status != 0) status = -1;
    }
    if (f->write_error) status = -1;
    pthread_mutex_unlock(&f->lock);
    return status;
}

void mt_storage_file_close(mt_storage_file *f)
{
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_signal(&f->queued);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->worker, NULL);   /* the thread finishes what was queued first */
    destroy_sync(f);
    free(f->staging);
    f->staging = NULL;
    close(f->fd);
    f->fd = -1;
}

mt_storage mt_storage_file_interface(mt_storage_file *f)
{
    mt_storage st;
    st.read_start = file_read_start;
    st.read_wait = file_read_wait;
    st.write = file_write;
    st.ctx = f;
    return st;
}
