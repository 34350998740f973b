/* Threads for the kernels on a Linux host or board (see mt_threads.c). */
#ifndef MT_THREADS_H
#define MT_THREADS_H

/* Runs the kernels' work on n threads (the caller plus n-1 workers) from now
 * on; n = 1 stops the workers. Returns 0, or -1 when n is out of [1, 64] or
 * the system refused a thread (then fewer run: see mt_threads_count). */
int mt_threads_start(int n);
int mt_threads_count(void);

#endif
