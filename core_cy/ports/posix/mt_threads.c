/* POSIX thread pool behind the core's mt_parallel hook (mt_gemm.h). A task's
 * units are cut into a few contiguous chunks per thread, and the caller and
 * the workers claim chunks one at a time from a shared ticket until none is
 * left: the caller starts at once instead of waiting for workers to wake, and
 * a worker the system delays (another process on its core) just claims fewer
 * chunks instead of holding everyone up. Kernels only hand over
 * output-disjoint units whose every element is computed in the canonical
 * order, so results are identical for any n and any claiming order.
 * Between tasks workers spin briefly (kernels come back to back in a training
 * step), then sleep on a condition variable.
 * Workers live until mt_threads_start is called again (or with n = 1). */
#include <pthread.h>
#include <sched.h>
#include "mt_gemm.h"
#include "mt_threads.h"

#define MAX_THREADS 64
/* Below this many multiply-adds (~20-60 us of work) waking the workers costs
 * more than it saves. */
#define MIN_PARALLEL_WORK (1L << 20)
/* Chunks per thread: two even out a late or slow thread; more cut the
 * GEMMs' cache reuse (each chunk streams its whole B or W operand again:
 * a quarter of the 512x512 stack's dW and dX took 20-30% longer per unit of
 * work than a half, in thread CPU time). */
#define CHUNKS_PER_THREAD 2
/* Idle polls (a pause instruction each, ~20-100 ns) before a worker sleeps
 * (~0.1-0.4 ms), and before a caller waiting for the last chunks yields. */
#define SPIN_POLLS 4096

#define TICKET_ROUND(t) ((unsigned)((t) >> 32))
#define TICKET_CHUNKS(t) ((unsigned)((t) >> 16) & 0xffffu)
#define TICKET_NEXT(t) ((unsigned)(t) & 0xffffu)

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;   /* for sleeping workers */

static struct {
    pthread_t workers[MAX_THREADS];
    int n_threads;                 /* including the caller */
    /* ticket = round << 32 | chunks << 16 | next chunk to claim. The
     * chunk count lives in the ticket, not beside it: a thread holding the
     * exhausted ticket of the last round must not read the next round's
     * larger count and claim a chunk before that round is published (it did,
     * on 4 threads under load: a unit ran twice). Rounds only grow and, within
     * a round, the chunk index only grows, so a successful claim proves the
     * task fields below were not rewritten since they were read. */
    unsigned long long ticket;
    mt_task_fn task;
    void *ctx;
    int units;
    int done;                      /* chunks finished in this round */
    int sleepers;                  /* workers waiting on `wake` */
    int stop;
} pool;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Claims and runs chunks of the round in `ticket` until none is left. */
static void run_chunks(unsigned long long ticket)
{
    unsigned round = TICKET_ROUND(ticket);
    for (;;) {
        mt_task_fn task = __atomic_load_n(&pool.task, __ATOMIC_RELAXED);
        void *ctx = __atomic_load_n(&pool.ctx, __ATOMIC_RELAXED);
        int units = __atomic_load_n(&pool.units, __ATOMIC_RELAXED);
        unsigned chunks = TICKET_CHUNKS(ticket);
        unsigned chunk = TICKET_NEXT(ticket);
        if (TICKET_ROUND(ticket) != round || chunk >= chunks)
            return;
        if (__atomic_compare_exchange_n(&pool.ticket, &ticket, ticket + 1, 0,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            int lo = (int)((long)units * chunk / (long)chunks);
            int hi = (int)((long)units * (chunk + 1) / (long)chunks);
            if (lo < hi)
                task(ctx, lo, hi);
            __atomic_add_fetch(&pool.done, 1, __ATOMIC_SEQ_CST);
            ticket = LOAD(&pool.ticket);
        }
        /* on failure `ticket` holds the current value: try again */
    }
}

/* Waits (spinning, then sleeping) for a round other than `seen`; returns
 * its ticket, or 0 with pool.stop set. */
static unsigned long long next_round(unsigned seen)
{
    unsigned long long ticket;
    int polls;
    for (polls = 0; polls < SPIN_POLLS; polls++) {
        ticket = LOAD(&pool.ticket);
        if (TICKET_ROUND(ticket) != seen || LOAD(&pool.stop))
            return ticket;
        cpu_relax();
    }
    pthread_mutex_lock(&lock);
    STORE(&pool.sleepers, LOAD(&pool.sleepers) + 1);
    while (TICKET_ROUND(ticket = LOAD(&pool.ticket)) == seen && !LOAD(&pool.stop))
        pthread_cond_wait(&wake, &lock);
    STORE(&pool.sleepers, LOAD(&pool.sleepers) - 1);
    pthread_mutex_unlock(&lock);
    return ticket;
}

static void *worker(void *arg)
{
    unsigned seen = (unsigned)(unsigned long)arg;   /* the round current at start */
    for (;;) {
        unsigned long long ticket = next_round(seen);
        if (LOAD(&pool.stop))
            return 0;
        seen = TICKET_ROUND(ticket);
        run_chunks(ticket);
    }
}

static void run_parallel(mt_task_fn task, void *ctx, int units, long work)
{
    unsigned long long ticket;
    int chunks, polls = 0;
    if (work < MIN_PARALLEL_WORK || pool.n_threads < 2) {
        task(ctx, 0, units);
        return;
    }
    chunks = pool.n_threads * CHUNKS_PER_THREAD;
    if (chunks > units)
        chunks = units;
    /* The previous round is complete (every chunk claimed and done) and its
     * ticket is exhausted, so no claim can succeed until the new ticket is
     * published. */
    __atomic_store_n(&pool.task, task, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.ctx, ctx, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.units, units, __ATOMIC_RELAXED);
    STORE(&pool.done, 0);
    ticket = (unsigned long long)(TICKET_ROUND(LOAD(&pool.ticket)) + 1) << 32
             | (unsigned long long)chunks << 16;
    STORE(&pool.ticket, ticket);
    if (LOAD(&pool.sleepers) > 0) {   /* seq_cst pairs with next_round's check */
        pthread_mutex_lock(&lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&lock);
    }
    run_chunks(ticket);
    while (LOAD(&pool.done) < chunks) {   /* chunks other threads still run */
        if (++polls < SPIN_POLLS)
            cpu_relax();
        else
            sched_yield();
    }
}

static void stop_workers(void)
{
    int i;
    pthread_mutex_lock(&lock);
    STORE(&pool.stop, 1);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    for (i = 1; i < pool.n_threads; i++)
        pthread_join(pool.workers[i], 0);
    STORE(&pool.stop, 0);
    pool.n_threads = 1;
}

int mt_threads_start(int n)
{
    int i;
    unsigned round = TICKET_ROUND(LOAD(&pool.ticket));
    if (n < 1 || n > MAX_THREADS)
        return -1;
    mt_set_parallel(0, 1);
    if (pool.n_threads > 1)
        stop_workers();
    pool.n_threads = 1;
    for (i = 1; i < n; i++) {
        if (pthread_create(&pool.workers[i], 0, worker, (void *)(unsigned long)round) != 0)
            break;
        pool.n_threads = i + 1;
    }
    if (pool.n_threads > 1)
        mt_set_parallel(run_parallel, pool.n_threads);
    return pool.n_threads == n ? 0 : -1;
}

int mt_threads_count(void)
{
    return pool.n_threads < 1 ? 1 : pool.n_threads;
}
