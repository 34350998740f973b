"""Where the time of one training step of an FC stack goes, op by op, at 1
and 2 kernel threads, and how close each GEMM comes to this core's peak.

    python bench/fc_profile.py [--layers 784,512,512,512,10] [--batch 64]
                               [--threads 1,2] [--repeats 7] [--root DIR]
                               [--cpu-time]

The kernels are compiled from core_cy/src (plus the POSIX thread pool) with
the extension's flags, together with a small C timing loop, and called on the
shapes of the stack's training step in the executor's order: per layer fc fwd
(+ bias; as FC_FWD_PACKED where `microtrain train` plans its scratch:
host_tools/graph/fc_scratch.py) and relu, the softmax cross-entropy loss and
its derivative, then per layer backwards the weight gradient (dW, + bias gradient), the input
derivative (dX; none for the first layer), the relu derivative and the SGD
update of weights and bias. Each cell is the median over repeats of the wall
time per call (threads run in parallel, so wall time is the right clock).
--cpu-time (1 thread only) takes the minimum over repeats of the calling
thread's CPU time instead: the kernels' own speed on a machine other jobs
load, where wall time counts the time they take the core away.

The clock comes from a chain of dependent integer adds timed in thread CPU
time (one per cycle on
every current x86-64 core). The peak is measured, not looked up: independent
multiplies and adds (no FMA: the canonical order of mt_gemm.h rounds the
product) on 8-float (AVX2) and 16-float (AVX-512) vectors, as MACs per cycle.
A GEMM's MACs/cycle is its multiply-adds / (seconds * clock); at 2 threads it
counts both cores' cycles (so the peak stays the per-core figure).

The thread pool's own cost is measured apart: the wall time of a task of 64
units of 1 us each (64 us of work) after 20 us of serial work (the gap
between two GEMMs of a step), median over 2000 rounds, minus 64 us / threads.
--root compiles the kernels of another checkout (e.g. `git worktree add` of
an older commit) into the same harness, for before/after figures.
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from host_tools.graph.fc_scratch import packed_bytes  # noqa: E402

HARNESS = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <time.h>
#include "mt_gemm.h"
#include "mt_kernels.h"
#include "mt_threads.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* This thread's CPU seconds: the clock and peak loops run on one thread, and
 * time another process takes from the core does not count. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Cycles per second from n iterations of 8 dependent 1-cycle adds. */
double clock_hz(long n)
{
    long x = 0, i;
    double t0 = cpu_now();
    for (i = 0; i < n; i++)
        __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                         "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                         : "+r"(x));
    return 8.0 * (double)n / (cpu_now() - t0);
}

/* MACs per second of 12 independent acc = acc + a*b chains on VLxfloat
 * vectors (rounded multiply, then add: no FMA), n iterations. */
#define PEAK(NAME, VL, TARGET)                                                  \
__attribute__((target(TARGET))) double NAME(long n, float seed)                  \
{                                                                                \
    typedef float v __attribute__((vector_size(VL * 4)));                      \
    v a = (v){0} + seed, b = (v){0} + 1.0f - seed, c[12];                        \
    long i;                                                                      \
    int q;                                                                       \
    double t0;                                                                   \
    for (q = 0; q < 12; q++)                                                     \
        c[q] = (v){0} + (float)q;                                                \
    t0 = cpu_now();                                                              \
    for (i = 0; i < n; i++) {                                                    \
        _Pragma("GCC unroll 12")                                                 \
        for (q = 0; q < 12; q++)                                                 \
            c[q] = c[q] + a * b;                                                 \
        __asm__ volatile("" : "+x"(a), "+x"(b));                                 \
    }                                                                            \
    t0 = cpu_now() - t0;                                                         \
    for (q = 1; q < 12; q++)                                                     \
        c[0] = c[0] + c[q];                                                      \
    return c[0][0] == 12345.0f ? 0.0 : 12.0 * VL * (double)n / t0;               \
}
PEAK(peak_avx2, 8, "avx2")
PEAK(peak_avx512, 16, "avx512f")

/* 1 us of work per unit */
static void busy(void *ctx, int lo, int hi)
{
    double t0 = now();
    (void)ctx;
    while (now() - t0 < 1e-6 * (hi - lo))
        ;
}

/* Median wall seconds of one parallel task of 64 units of 1 us each, after
 * gap_s of serial work (the caller busy); rounds <= 4096. */
double pool_round_trip(int rounds, double gap_s)
{
    static double took[4096];
    int r, i, j;
    for (r = 0; r < rounds; r++) {
        double t0 = now();
        while (now() - t0 < gap_s)
            ;
        t0 = now();
        mt_parallel(busy, 0, 64, 1L << 30);
        took[r] = now() - t0;
    }
    for (i = 1; i < rounds; i++)   /* insertion sort: small n */
        for (j = i; j > 0 && took[j - 1] > took[j]; j--) {
            double t = took[j];
            took[j] = took[j - 1];
            took[j - 1] = t;
        }
    return took[rounds / 2];
}

int cpu_has(int which)
{
    __builtin_cpu_init();
    return which == 0 ? __builtin_cpu_supports("avx2") : __builtin_cpu_supports("avx512f");
}

/* op: 0 fc fwd, 1 fc grad, 2 fc deriv, 3 relu fwd, 4 relu deriv, 5 loss fwd
 * + deriv, 6 sgd (weights), 7 sgd (bias). Seconds per call over reps. */
/* fc fwd as FC_FWD_PACKED with `scratch_bytes` of scratch where the plan
 * gives it some (and the checkout has it: --root may be older). */
static void fc_fwd(const float *x, const float *w, const float *b, float *y, int n, int in,
                   int out, void *scratch, uint32_t scratch_bytes)
{
#ifdef MT_GEMM_KEPT_REGIONS
    if (scratch_bytes) {
        mt_fc_fwd_packed(x, w, b, y, n, in, out, scratch, scratch_bytes);
        return;
    }
#endif
    (void)scratch; (void)scratch_bytes;
    mt_fc_fwd(x, w, b, y, n, in, out);
}

double time_op(int cpu_clock, int op, float *x, float *w, float *b, float *y, float *dy, float *dw,
               float *db, float *dx, const int32_t *labels, int n, int in, int out, int reps,
               void *scratch, uint32_t scratch_bytes)
{
    float correct;
    int i;
    double t0 = cpu_clock ? cpu_now() : now();
    for (i = 0; i < reps; i++) {
        switch (op) {
        case 0: fc_fwd(x, w, b, y, n, in, out, scratch, scratch_bytes); break;
        case 1: mt_fc_grad(x, dy, dw, db, n, in, out); break;
        case 2: mt_fc_deriv(dy, w, dx, n, in, out); break;
        case 3: mt_act_fwd(0, x, y, n, out); break;
        case 4: mt_act_deriv(0, y, dy, dx, n, out); break;
        case 5: mt_loss_ce_softmax_fwd(x, labels, 0, n, out, y, &correct);
                mt_loss_ce_softmax_deriv(y, labels, 0, n, out, dx); break;
        case 6: mt_sgd_apply(w, dw, 0, in * out, 1e-9f, 0.0f); break;
        default: mt_sgd_apply(b, db, 0, out, 1e-9f, 0.0f); break;
        }
    }
    return ((cpu_clock ? cpu_now() : now()) - t0) / reps;
}
"""

OPS = ("fwd", "dW", "dX", "relu", "relu'", "loss", "sgd W", "sgd b")


def compile_core(root, harness_text, tool) -> ctypes.CDLL:
    """The C core of checkout `root` (plus its POSIX thread pool) and a timing
    harness, compiled with the extension's flags into one library."""
    src, port = os.path.join(root, "core_cy", "src"), os.path.join(root, "core_cy", "ports", "posix")
    if not os.path.isfile(os.path.join(port, "mt_threads.c")):
        sys.exit(f"{tool}: --root {root}: no core_cy/ports/posix/mt_threads.c there")
    out = tempfile.mkdtemp(prefix=f"mt_{tool}_")
    harness = os.path.join(out, "harness.c")
    with open(harness, "w") as f:
        f.write(harness_text)
    sources = sorted(glob.glob(os.path.join(src, "*.c"))) + [os.path.join(port, "mt_threads.c")]
    so = os.path.join(out, "libprof.so")
    subprocess.run(["gcc", "-std=c99", "-O3", "-fPIC", "-shared", "-ffp-contract=off",
                    "-fno-math-errno", "-DNDEBUG", "-I", src, "-I", port, *sources, harness,
                    "-o", so, "-lm", "-lpthread"], check=True)
    return ctypes.CDLL(so)


def build(root) -> ctypes.CDLL:
    lib = compile_core(root, HARNESS, "fc_profile")
    P, I = ctypes.c_void_p, ctypes.c_int
    lib.clock_hz.restype = ctypes.c_double
    lib.clock_hz.argtypes = [ctypes.c_long]
    for name in ("peak_avx2", "peak_avx512"):
        getattr(lib, name).restype = ctypes.c_double
        getattr(lib, name).argtypes = [ctypes.c_long, ctypes.c_float]
    lib.pool_round_trip.restype = ctypes.c_double
    lib.pool_round_trip.argtypes = [ctypes.c_int, ctypes.c_double]
    lib.time_op.restype = ctypes.c_double
    lib.time_op.argtypes = [I, I, P, P, P, P, P, P, P, P, P, I, I, I, I, P, ctypes.c_uint32]
    lib.mt_threads_start.argtypes = [I]
    return lib


def median_of(fn, repeats):
    return statistics.median(fn() for _ in range(repeats))


def machine(lib, repeats):
    """(clock Hz, {name: peak MACs/cycle}) for the vector widths this CPU has."""
    hz = median_of(lambda: lib.clock_hz(50_000_000), repeats)
    peaks = {}
    for which, name in ((0, "avx2"), (1, "avx512")):
        if lib.cpu_has(which):
            fn = getattr(lib, "peak_" + name)
            peaks[name] = median_of(lambda: fn(20_000_000, 0.5), repeats) / hz
    return hz, peaks


class Layer:
    """One FC layer's buffers at batch n."""

    def __init__(self, rng, n, fan_in, fan_out):
        self.n, self.fan_in, self.fan_out = n, fan_in, fan_out
        f = np.float32
        self.x = rng.standard_normal((n, fan_in)).astype(f)
        self.w = (rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in)).astype(f)
        self.b, self.db = np.zeros(fan_out, f), np.zeros(fan_out, f)
        self.y, self.dy = np.zeros((n, fan_out), f), rng.standard_normal((n, fan_out)).astype(f)
        self.dw, self.dx = np.zeros_like(self.w), np.zeros_like(self.x)
        self.labels = rng.integers(0, fan_out, n).astype(np.int32)
        # the forward's scratch as `microtrain train` plans it (FC_FWD_PACKED), 0: FC_FWD
        self.scratch_bytes = packed_bytes(n, fan_in, fan_out)
        self.scratch = np.zeros(self.scratch_bytes // 4 + 1, f)

    def time(self, lib, op, reps, cpu_clock=False):
        p = [a.ctypes.data for a in (self.x, self.w, self.b, self.y, self.dy, self.dw, self.db,
                                      self.dx, self.labels)]
        return lib.time_op(int(cpu_clock), op, *p, self.n, self.fan_in, self.fan_out, reps,
                           self.scratch.ctypes.data, self.scratch_bytes)


def step_ops(widths):
    """(label, layer index, op) in the executor's order for one training step."""
    last = len(widths) - 2
    ops = []
    for i in range(last + 1):
        ops.append((f"fc{i} fwd", i, 0))
        if i < last:
            ops.append((f"fc{i} relu", i, 3))
    ops.append(("loss fwd+deriv", last, 5))
    for i in range(last, -1, -1):
        ops.append((f"fc{i} dW", i, 1))
        if i > 0:
            ops.append((f"fc{i} dX", i, 2))
            ops.append((f"fc{i - 1} relu'", i - 1, 4))
        ops += [(f"fc{i} sgd W", i, 6), (f"fc{i} sgd b", i, 7)]
    return ops


def macs(layer, op):
    return layer.n * layer.fan_in * layer.fan_out if op in (0, 1, 2) else 0


def profile(lib, layers, ops, repeats, cpu_clock, reps_budget=0.05):
    """{label: seconds per call}: median wall time, or minimum CPU time."""
    out = {}
    pick = min if cpu_clock else statistics.median
    for label, i, op in ops:
        layer = layers[i]
        once = layer.time(lib, op, 3)
        reps = max(3, int(reps_budget / max(once, 1e-7)))
        out[label] = pick(layer.time(lib, op, reps, cpu_clock) for _ in range(repeats))
    return out


def parse_ints(text, what):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        sys.exit(f"fc_profile: --{what} takes comma-separated integers, got {text!r}")
    if not values or min(values) < 1:
        sys.exit(f"fc_profile: --{what} values must be >= 1, got {text!r}")
    return values


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default="784,512,512,512,10", help="widths, input first")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", default="1,2", help="kernel thread counts to profile")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--root", default=ROOT, help="checkout whose core_cy to compile")
    ap.add_argument("--cpu-time", action="store_true",
                    help="minimum thread CPU time (1 thread only) instead of median wall time")
    a = ap.parse_args()
    widths = parse_ints(a.layers, "layers")
    threads = parse_ints(a.threads, "threads")
    if len(widths) < 2 or a.batch < 1 or a.repeats < 1 or max(threads) > 64:
        sys.exit("fc_profile: need >= 2 --layers widths, --batch and --repeats >= 1, "
                 "--threads <= 64")
    if a.cpu_time and threads != [1]:
        sys.exit("fc_profile: --cpu-time measures one thread: give --threads 1")
    lib = build(a.root)
    hz, peaks = machine(lib, a.repeats)
    peak_text = ", ".join(f"{k} {v:.1f}" for k, v in peaks.items())
    print(f"clock {hz / 1e9:.2f} GHz (dependent adds); mul+add peak MACs/cycle/core "
          f"(no FMA): {peak_text}")
    rng = np.random.default_rng(0)
    layers = [Layer(rng, a.batch, widths[i], widths[i + 1]) for i in range(len(widths) - 1)]
    ops = step_ops(widths)
    results, round_trip = {}, {}
    for count in threads:
        if lib.mt_threads_start(count) != 0:
            sys.exit(f"fc_profile: cannot start {count} kernel threads")
        results[count] = profile(lib, layers, ops, a.repeats, a.cpu_time)
        round_trip[count] = lib.pool_round_trip(2000, 20e-6) - 64e-6 / count
    lib.mt_threads_start(1)
    head = "".join(f" | {t}t us   share MAC/cyc" for t in threads)
    print(f"{'op':16} {'MMACs':>7}{head}")
    for label, i, op in ops:
        m = macs(layers[i], op)
        cells = ""
        for count in threads:
            sec, total = results[count][label], sum(results[count].values())
            rate = f"{m / (sec * hz * count):7.1f}" if m else " " * 7
            cells += f" | {1e6 * sec:7.1f} {100 * sec / total:6.1f}% {rate}"
        print(f"{label:16} {m / 1e6:7.2f}{cells}")
    all_macs = sum(macs(layers[i], op) for _, i, op in ops)
    base = sum(results[threads[0]].values())
    for count in threads:
        total = sum(results[count].values())
        gemm = sum(results[count][lbl] for lbl, _, op in ops if op in (0, 1, 2))
        speedup = f", {base / total:.2f}x vs {threads[0]}t" if count != threads[0] else ""
        print(f"{count} thread(s): step {1e3 * total:.3f} ms, GEMMs {1e3 * gemm:.3f} ms "
              f"({100 * gemm / total:.0f}%), {all_macs / 1e6:.1f} M MACs at "
              f"{all_macs / (gemm * hz * count):.1f} MACs/cycle/core{speedup}; "
              f"pool overhead per task {1e6 * round_trip[count]:.1f} us")

if __name__ == "__main__":
    main()
