"""The POSIX thread pool (core_cy/ports/posix/mt_threads.c) runs every unit
of every task exactly once and returns only when all are done, over many
back-to-back tasks of varied size on 2 to 8 threads (chunks claimed from a
shared ticket, workers spinning and sleeping between tasks); and a training
step of the 784-512-512-10 stack at batch 64, big enough that every GEMM is
split, gives the single-thread weights bit for bit on 2 and 3 threads."""
import ctypes
import glob
import os
import subprocess

import pytest
from kernel_lib import CFLAGS, SRC
from mlp_threads import mlp_weights

from core_cy._core import set_threads

PORT = os.path.join(os.path.dirname(SRC), "ports", "posix")
STRESS = r"""
#define _POSIX_C_SOURCE 199309L
#include <time.h>
#include "mt_gemm.h"
#include "mt_threads.h"
static int counts[4096];
static void bump(void *ctx, int lo, int hi)
{
    int u;
    (void)ctx;
    for (u = lo; u < hi; u++)
        __atomic_add_fetch(&counts[u], 1, __ATOMIC_RELAXED);
}
/* Returns the number of units not run exactly once over `rounds` tasks;
 * every 97th round pauses 2 ms first so that idle workers go to sleep. */
int stress(int threads, int rounds)
{
    int r, u, bad = 0;
    struct timespec pause = {0, 2000000};
    if (mt_threads_start(threads) != 0)
        return -1;
    for (r = 0; r < rounds; r++) {
        int units = 1 + (r * 37) % 300;
        if (r % 97 == 0)
            nanosleep(&pause, 0);
        for (u = 0; u < units; u++)
            counts[u] = 0;
        mt_parallel(bump, 0, units, 1L << 30);
        for (u = 0; u < units; u++)
            bad += counts[u] != 1;
    }
    mt_threads_start(1);
    return bad;
}
"""


@pytest.fixture(scope="module")
def pool_lib(tmp_path_factory):
    out = tmp_path_factory.mktemp("pool")
    (out / "stress.c").write_text(STRESS)
    sources = sorted(glob.glob(os.path.join(SRC, "*.c"))) + [os.path.join(PORT, "mt_threads.c")]
    so = out / "libpool.so"
    subprocess.run(["gcc", *CFLAGS, "-I", SRC, "-I", PORT, *sources, str(out / "stress.c"),
                    "-o", str(so), "-lm", "-lpthread"], check=True)
    lib = ctypes.CDLL(str(so))
    lib.stress.argtypes = [ctypes.c_int, ctypes.c_int]
    return lib


# 30,000 rounds (under a second each): at 3,000 a worker reading the next
# round's chunk count from an exhausted ticket went unseen on a quiet machine.
@pytest.mark.parametrize("threads", [2, 3, 4, 8])
def test_every_unit_runs_exactly_once(pool_lib, threads):
    assert pool_lib.stress(threads, 30000) == 0


@pytest.fixture
def one_thread_afterwards():
    yield
    set_threads(1)


def _stack_weights(threads):
    return mlp_weights(threads, [512, 512], 64, {"type": "sgd", "learning_rate": 0.01}, 192, 4, 2)


def test_stack_weights_do_not_depend_on_the_thread_count(one_thread_afterwards):
    reference = _stack_weights(1)
    for threads in (2, 3):
        got = _stack_weights(threads)
        assert sorted(got) == sorted(reference)
        for key in reference:
            assert got[key].tobytes() == reference[key].tobytes(), (threads, key)
