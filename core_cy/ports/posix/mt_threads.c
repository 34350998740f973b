/* POSIX thread pool behind the core's mt_parallel hook (mt_gemm.h): the
 * calling thread and n-1 workers each take one contiguous share of a task's
 * units. Kernels only hand over output-disjoint units whose every element is
 * computed in the canonical order, so results are identical for any n.
 * Workers live until mt_threads_start is called again (or with n = 1). */
#include <pthread.h>
#include "mt_gemm.h"
#include "mt_threads.h"

#define MAX_THREADS 64
/* Below this many multiply-adds (~20-60 us of work) waking the workers costs
 * more than it saves. */
#define MIN_PARALLEL_WORK (1L << 20)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    pthread_t workers[MAX_THREADS];
    int n_threads;          /* including the caller */
    unsigned long round;    /* bumped for every task */
    unsigned long first;    /* round when the workers were created */
    int pending;            /* workers still busy with this round */
    int stop;
    mt_task_fn task;
    void *ctx;
    int units;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};

/* Share `who` of [0, units) split n ways. */
static void share(int units, int n, int who, int *lo, int *hi)
{
    *lo = (int)((long)units * who / n);
    *hi = (int)((long)units * (who + 1) / n);
}

static void *worker(void *arg)
{
    int who = (int)(long)arg, lo, hi;
    unsigned long seen;
    pthread_mutex_lock(&pool.lock);
    seen = pool.first;   /* a worker may start after the first task was posted */
    for (;;) {
        while (pool.round == seen && !pool.stop)
            pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.stop)
            break;
        seen = pool.round;
        share(pool.units, pool.n_threads, who, &lo, &hi);
        pthread_mutex_unlock(&pool.lock);
        if (lo < hi)
            pool.task(pool.ctx, lo, hi);
        pthread_mutex_lock(&pool.lock);
        if (--pool.pending == 0)
            pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.lock);
    return 0;
}

static void run_parallel(mt_task_fn task, void *ctx, int units, long work)
{
    int lo, hi;
    if (work < MIN_PARALLEL_WORK || pool.n_threads < 2) {
        task(ctx, 0, units);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    pool.task = task;
    pool.ctx = ctx;
    pool.units = units;
    pool.pending = pool.n_threads - 1;
    pool.round++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    share(units, pool.n_threads, 0, &lo, &hi);
    if (lo < hi)
        task(ctx, lo, hi);
    pthread_mutex_lock(&pool.lock);
    while (pool.pending > 0)
        pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
}

static void stop_workers(void)
{
    int i;
    pthread_mutex_lock(&pool.lock);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (i = 1; i < pool.n_threads; i++)
        pthread_join(pool.workers[i], 0);
    pool.stop = 0;
    pool.n_threads = 1;
}

int mt_threads_start(int n)
{
    int i;
    if (n < 1 || n > MAX_THREADS)
        return -1;
    mt_set_parallel(0);
    if (pool.n_threads > 1)
        stop_workers();
    pool.n_threads = 1;
    pool.first = pool.round;
    for (i = 1; i < n; i++) {
        if (pthread_create(&pool.workers[i], 0, worker, (void *)(long)i) != 0)
            break;
        pool.n_threads = i + 1;
    }
    if (pool.n_threads > 1)
        mt_set_parallel(run_parallel);
    return pool.n_threads == n ? 0 : -1;
}

int mt_threads_count(void)
{
    return pool.n_threads < 1 ? 1 : pool.n_threads;
}
