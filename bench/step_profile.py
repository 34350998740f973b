"""Where the time of one training step of a bench model goes, op by op.

    python bench/step_profile.py [--models "lenet5 32x32,cnn (digits)"]
                                 [--batch 32] [--repeats 7] [--iterations 20]
                                 [--root DIR]

The model's program is built as bench/step_time.py builds it (conv scratch
as `microtrain train` plans it on the host) and run by the C executor of
--root's core (compiled with the extension's flags, 1 kernel thread), with
hooks that read the thread CPU clock around every op: time other jobs take
from the core does not count. Each round restores the arena (weights, batch)
and runs --iterations steps; per op the table gives the smallest mean over
--repeats rounds, its share of the step and, per layer kind, the sum.
"""
from __future__ import annotations

import argparse
import ctypes
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fc_profile import ROOT, compile_core  # noqa: E402
from step_time import MODELS, random_data  # noqa: E402
from model_names import pick_models  # noqa: E402

from host_tools.cli.common import label_kind_for  # noqa: E402
from host_tools.data import encode  # noqa: E402
from host_tools.graph.host_scratch import widen_host_scratch  # noqa: E402
from host_tools.graph.training_graph import build_training_graph  # noqa: E402
from host_tools.program import build_program  # noqa: E402
from host_tools.session import Session  # noqa: E402

HARNESS = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <time.h>
#include "mt_exec.h"

typedef struct {
    double *seconds;   /* per op, summed */
    double started;
} op_clock;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int before_op(void *ctx, uint32_t i)
{
    (void)i;
    ((op_clock *)ctx)->started = cpu_now();
    return 0;
}

static int after_op(void *ctx, uint32_t i)
{
    op_clock *c = ctx;
    c->seconds[i] += cpu_now() - c->started;
    return 0;
}

/* Runs `iterations` training steps of the program over the arena (batch
 * already loaded), adding each op's CPU seconds to seconds[op]. */
int profile_steps(const mt_op *ops, uint32_t n_ops, const mt_tensor *tensors, uint32_t n_tensors,
                  uint32_t arena_bytes, const int32_t *roles, uint8_t *arena, int iterations,
                  double *seconds)
{
    mt_program p;
    op_clock c;
    mt_hooks h;
    int i, status = 0;
    p.ops = ops; p.n_ops = n_ops; p.tensors = tensors; p.n_tensors = n_tensors;
    p.arena_bytes = arena_bytes; p.input = roles[0]; p.labels = roles[1];
    p.metrics = roles[2]; p.output = roles[3]; p.micro_batches = 1;
    c.seconds = seconds;
    h.iteration_start = 0; h.before_op = before_op; h.after_op = after_op; h.ctx = &c;
    status = mt_program_validate(&p);
    for (i = 0; i < iterations && status == 0; i++)
        status = mt_run(&p, arena, MT_MODE_TRAIN, &h);
    return status;
}
"""


def loaded_session(name, batch):
    """(program, session) of bench model `name` at `batch`, one batch loaded."""
    spec = MODELS[name]()
    spec.batch_size = batch
    x, y = random_data(build_training_graph(spec))
    graph = build_training_graph(spec, label_kind_for(spec, y))
    widen_host_scratch(graph)
    program = build_program(graph)
    session = Session(program, seed=0)
    x_rows, y_bytes = encode(x, y, graph)
    session.executor.load_batch(x_rows, y_bytes, np.arange(len(x_rows), dtype=np.int32), 0)
    return program, session


def profile(lib, program, session, repeats, iterations):
    """Seconds per op and step: the smallest per-round mean."""
    ops, table, arena_bytes, *roles = program.executor_args()
    ops = np.ascontiguousarray(ops)
    table = np.ascontiguousarray(table, dtype=np.uint32)
    roles = np.array(roles[:4], dtype=np.int32)
    pristine = np.array(session.executor.arena)
    best = np.full(len(ops), np.inf)
    for _ in range(repeats):
        arena = pristine.copy()
        seconds = np.zeros(len(ops))
        status = lib.profile_steps(ops.ctypes.data, len(ops), table.ctypes.data, len(table),
                                   arena_bytes, roles.ctypes.data, arena.ctypes.data,
                                   iterations, seconds.ctypes.data)
        if status != 0:
            sys.exit(f"step_profile: the executor stopped with status {status}")
        best = np.minimum(best, seconds / iterations)
    return best


def report(program, seconds):
    total = seconds.sum()
    print(f"{'op':28} {'us':>8} {'share':>7}")
    for op, sec in zip(program.graph.ops, seconds):
        print(f"{op.label:28} {1e6 * sec:8.1f} {100 * sec / total:6.1f}%")
    by_kind = defaultdict(float)
    for op, sec in zip(program.graph.ops, seconds):
        by_kind[op.kind] += sec
    print("per kind: " + ", ".join(f"{k} {1e6 * v:.0f}" for k, v in
                                   sorted(by_kind.items(), key=lambda kv: -kv[1])))
    print(f"step {1e6 * total:.1f} us (sum of ops, thread CPU time)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet5 32x32,cnn (digits)",
                    help="step_time.py model names, comma-separated")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=20, help="steps per round")
    ap.add_argument("--root", default=ROOT, help="checkout whose core_cy to compile")
    a = ap.parse_args()
    if a.batch < 1 or a.repeats < 1 or a.iterations < 1:
        sys.exit("step_profile: --batch, --repeats and --iterations must be >= 1")
    names = pick_models(a.models, list(MODELS), "step_profile")
    lib = compile_core(a.root, HARNESS, "step_profile")
    lib.profile_steps.restype = ctypes.c_int
    P, U = ctypes.c_void_p, ctypes.c_uint32
    lib.profile_steps.argtypes = [P, U, P, U, U, P, P, ctypes.c_int, P]
    for name in names:
        program, session = loaded_session(name, a.batch)
        print(f"{name}, batch {a.batch}, 1 kernel thread, core of {a.root}")
        report(program, profile(lib, program, session, a.repeats, a.iterations))


if __name__ == "__main__":
    main()
