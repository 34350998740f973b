/* File storage: a reader thread serves a fixed ring of pread requests in
 * order; writes are synchronous because the schedule reuses the bytes next. */
#define _POSIX_C_SOURCE 200809L
#include "mt_storage_file.h"

#include <errno.h>
#include <fcntl.h>
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

static void *reader_main(void *arg)
{
    mt_storage_file *f = (mt_storage_file *)arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->stopping && f->completed == f->submitted)
            pthread_cond_wait(&f->queued, &f->lock);
        if (f->completed == f->submitted) break;   /* stopping, nothing left to read */
        /* The slot's fields stay fixed until it is released, after completion. */
        mt_file_request *req = slot(f, f->completed);
        pthread_mutex_unlock(&f->lock);
        int status = read_fully(f->fd, req->dst, req->nbytes, req->flash_offset);
        pthread_mutex_lock(&f->lock);
        req->status = status;
        f->completed++;
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
        status = req->status;
        release_waited(f);
    }
    pthread_mutex_unlock(&f->lock);
    return status;
}

static int file_write(void *ctx, uint32_t flash_offset, const uint8_t *src, uint32_t nbytes)
{
    mt_storage_file *f = (mt_storage_file *)ctx;
    if (!in_bounds(f, flash_offset, nbytes)) return -1;
    return write_fully(f->fd, src, nbytes, flash_offset);
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
    f->stopping = 0;
    if (extend_to(f->fd, size) != 0 || init_sync(f) != 0) {
        close(f->fd);
        return -1;
    }
    if (pthread_create(&f->worker, NULL, reader_main, f) != 0) {
        destroy_sync(f);
        close(f->fd);
        return -1;
    }
    return 0;
}

int mt_storage_file_drain(mt_storage_file *f)
{
    int status = 0;
    pthread_mutex_lock(&f->lock);
    while (f->completed != f->submitted) pthread_cond_wait(&f->done, &f->lock);
    for (; f->released != f->submitted; f->released++) {
        mt_file_request *req = slot(f, f->released);
        if (!req->waited && req->status != 0) status = -1;
    }
    pthread_mutex_unlock(&f->lock);
    return status;
}

void mt_storage_file_close(mt_storage_file *f)
{
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_signal(&f->queued);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->worker, NULL);   /* the reader finishes what was queued first */
    destroy_sync(f);
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
