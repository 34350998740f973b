"""Kernel micro-benchmark: microtrain's C conv / FC kernels against PyTorch CPU.

Usage: python bench/kernel_speed.py [--src core_cy/src] [--opt -O3] [--quick]
                                    [--only conv|fc] [--batches 1,8,32] [--min-scratch]
                                    [--gemm scalar|sse|avx2|avx512]

Conv kernels get the arena scratch the host plans for a Linux board
(host_tools/graph/conv_scratch.py); --min-scratch gives them the 1344-byte
Cortex-M default instead (same results, smaller GEMMs).

Our kernels are compiled from --src with the extension's flags (-O3
-ffp-contract=off -fno-math-errno; the GEMM layer picks its AVX-512, else AVX2,
else SSE micro-kernels at run time by CPU features, or --gemm forces a set)
together with a
tiny C timing loop, so no Python call overhead is counted for us (the C
executor calls kernels directly). PyTorch is timed through its Python API
(the way a PyTorch training loop would call it) with one thread and with its
default thread count.

Per layer and batch it reports microseconds for forward (fwd), weight
gradient (dW, incl. bias gradient) and input derivative (dX), and the
ratio ours / torch (< 1 means we are faster; the target is <= 0.5).
torch: fwd = F.conv2d / F.linear; dW and dX = aten.convolution_backward with
the matching output mask / the two matmuls (+ sum for the bias).
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as Fn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from host_tools.graph.conv_scratch import (CONV_KINDS, LINUX_CAP_BYTES, MIN_BYTES,  # noqa: E402
                                           useful_bytes)

MIN_SCRATCH = False   # --min-scratch: the Cortex-M default for every conv op

HARNESS = r"""
#define _POSIX_C_SOURCE 199309L
#include <time.h>
#include "mt_kernels.h"
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
/* which: 0 fwd, 1 grad, 2 deriv. Returns seconds per call. */
double bench_conv(int which, const mt_conv_shape *s, const float *x, const float *w,
                  const float *b, float *y, const float *dy, float *dw, float *db,
                  float *dx, unsigned scratch_bytes, int reps)
{
    static float scratch[SCRATCH_CAP / 4];
    int i;
    double t0 = now();
    for (i = 0; i < reps; i++) {
        if (which == 0) mt_conv_fwd_sized(s, x, w, b, y, scratch, scratch_bytes);
        else if (which == 1) mt_conv_grad_sized(s, x, dy, dw, db, scratch, scratch_bytes);
        else mt_conv_deriv_sized(s, dy, w, dx, scratch, scratch_bytes);
    }
    return (now() - t0) / reps;
}
double bench_fc(int which, const float *x, const float *w, const float *b, float *y,
                const float *dy, float *dw, float *db, float *dx, int n, int in,
                int out, int reps)
{
    int i;
    double t0 = now();
    for (i = 0; i < reps; i++) {
        if (which == 0) mt_fc_fwd(x, w, b, y, n, in, out);
        else if (which == 1) mt_fc_grad(x, dy, dw, db, n, in, out);
        else mt_fc_deriv(dy, w, dx, n, in, out);
    }
    return (now() - t0) / reps;
}
"""


def scratch_bytes(kind, params):
    """The scratch the host plans for this conv op on a Linux board / the host
    (host_tools/graph/conv_scratch.py), or the minimum with --min-scratch."""
    if MIN_SCRATCH:
        return MIN_BYTES
    return max(MIN_BYTES, min(LINUX_CAP_BYTES, useful_bytes(kind, params)) // 4 * 4)


class ConvShape(ctypes.Structure):
    _fields_ = [(k, ctypes.c_int) for k in
                ("n", "c", "h", "w", "oc", "kh", "kw", "sh", "sw",
                 "ph", "pw", "oh", "ow", "groups")]


def build(src: str, opt: str) -> ctypes.CDLL:
    out = tempfile.mkdtemp(prefix="mt_kspeed_")
    harness = os.path.join(out, "harness.c")
    with open(harness, "w") as f:
        f.write(HARNESS)
    sources = sorted(glob.glob(os.path.join(src, "mt_kernels_*.c"))) + [os.path.join(src, "mt_math.c")]
    so = os.path.join(out, "libbench.so")
    subprocess.run(["gcc", "-std=c99", opt, "-fPIC", "-shared", "-ffp-contract=off",
                    "-fno-math-errno", "-fwrapv", "-DNDEBUG", f"-DSCRATCH_CAP={LINUX_CAP_BYTES}",
                    "-I", src, *sources,
                    harness, "-o", so, "-lm"], check=True)
    lib = ctypes.CDLL(so)
    P, I = ctypes.c_void_p, ctypes.c_int
    lib.bench_conv.restype = ctypes.c_double
    lib.bench_conv.argtypes = [I, P, P, P, P, P, P, P, P, P, ctypes.c_uint, I]
    lib.bench_fc.restype = ctypes.c_double
    lib.bench_fc.argtypes = [I, P, P, P, P, P, P, P, P, I, I, I, I]
    lib.mt_gemm_select.argtypes = [ctypes.c_char_p]
    lib.mt_gemm_variant_name.restype = ctypes.c_char_p
    return lib


def p(a):
    return None if a is None else a.ctypes.data


TRIALS = 15


def best_c(fn, budget):
    """min over TRIALS trials of thread-CPU seconds/call (reps per trial
    calibrated to ~budget s): robust to other processes on the machine."""
    fn(1)
    t = fn(3)
    reps = max(1, min(100000, int(budget / max(t, 1e-8))))
    return min(fn(reps) for _ in range(TRIALS))


def best_py(fn, budget, clock=time.thread_time):
    """Same for a Python callable; clock=thread_time for single-threaded torch,
    perf_counter (wall) for multi-threaded torch."""
    fn()
    t0 = clock()
    for _ in range(3):
        fn()
    t = (clock() - t0) / 3
    reps = max(1, min(20000, int(budget / max(t, 1e-7))))
    best = float("inf")
    for _ in range(TRIALS):
        t0 = clock()
        for _ in range(reps):
            fn()
        best = min(best, (clock() - t0) / reps)
    return best


# name, c, h, w, oc, k, stride, pad, groups
CONV_LAYERS = [
    ("3x3 1->8 28x28", 1, 28, 28, 8, 3, 1, 1, 1),
    ("3x3 8->8 14x14", 8, 14, 14, 8, 3, 1, 1, 1),
    ("3x3 8->16 14x14", 8, 14, 14, 16, 3, 1, 1, 1),
    ("3x3 16->16 14x14", 16, 14, 14, 16, 3, 1, 1, 1),
    ("3x3 16->16 7x7", 16, 7, 7, 16, 3, 1, 1, 1),
    ("3x3 8->16 s2 14->7", 8, 14, 14, 16, 3, 2, 1, 1),
    ("3x3 16->16 s2 14->7", 16, 14, 14, 16, 3, 2, 1, 1),
    ("dw3x3 16 14x14", 16, 14, 14, 16, 3, 1, 1, 16),
    ("dw3x3 16 s2 14->7", 16, 14, 14, 16, 3, 2, 1, 16),
    ("1x1 16->32 7x7", 16, 7, 7, 32, 1, 1, 0, 1),
    ("5x5 1->6 32x32 (lenet)", 1, 32, 32, 6, 5, 1, 0, 1),
    ("5x5 6->16 14x14 (lenet)", 6, 14, 14, 16, 5, 1, 0, 1),
]

# name, in, out
FC_LAYERS = [
    ("fc 784->64", 784, 64),
    ("fc 784->128", 784, 128),
    ("fc 128->64", 128, 64),
    ("fc 400->120", 400, 120),
    ("fc 120->84", 120, 84),
    ("fc 64->10", 64, 10),
    ("fc 784->512 (stack)", 784, 512),
    ("fc 512->512 (stack)", 512, 512),
]


def torch_conv_times(x, w, b, stride, pad, groups, dy, budget, clock):
    tx, tw, tb, tdy = (torch.from_numpy(a) for a in (x, w, b, dy))
    st, pd = [stride, stride], [pad, pad]
    cb = torch.ops.aten.convolution_backward
    with torch.no_grad():
        f = best_py(lambda: Fn.conv2d(tx, tw, tb, stride, pad, 1, groups), budget, clock)
        g = best_py(lambda: cb(tdy, tx, tw, [tw.shape[0]], st, pd, [1, 1], False,
                               [0, 0], groups, [False, True, True]), budget, clock)
        d = best_py(lambda: cb(tdy, tx, tw, [tw.shape[0]], st, pd, [1, 1], False,
                               [0, 0], groups, [True, False, False]), budget, clock)
    return f, g, d


def torch_fc_times(x, w, b, dy, budget, clock):
    tx, tw, tb, tdy = (torch.from_numpy(a) for a in (x, w, b, dy))
    with torch.no_grad():
        f = best_py(lambda: Fn.linear(tx, tw, tb), budget, clock)
        g = best_py(lambda: (tdy.t().mm(tx), tdy.sum(0)), budget, clock)
        d = best_py(lambda: tdy.mm(tw), budget, clock)
    return f, g, d


def run(lib, batches, which, budget, threads_default):
    rng = np.random.default_rng(0)
    rows = []
    layers = []
    if which in ("all", "conv"):
        layers += [("conv",) + L for L in CONV_LAYERS]
    if which in ("all", "fc"):
        layers += [("fc",) + L for L in FC_LAYERS]
    for L in layers:
        for n in batches:
            if L[0] == "conv":
                _, name, c, h, w_, oc, k, st, pd, G = L
                oh = (h + 2 * pd - k) // st + 1
                ow = (w_ + 2 * pd - k) // st + 1
                x = rng.standard_normal((n, c, h, w_), dtype=np.float32)
                w = rng.standard_normal((oc, c // G, k, k), dtype=np.float32)
                b = rng.standard_normal(oc, dtype=np.float32)
                dy = rng.standard_normal((n, oc, oh, ow), dtype=np.float32)
                y, dw, db, dx = (np.empty_like(a) for a in (dy, w, b, x))
                s = ConvShape(n, c, h, w_, oc, k, k, st, st, pd, pd, oh, ow, G)
                sp = ctypes.addressof(s)
                params = [n, c, h, w_, oc, k, k, st, st, pd, pd, oh, ow, G]
                sizes = [scratch_bytes(kind, params) for kind in CONV_KINDS]
                ours = [best_c(lambda r, i=i: lib.bench_conv(
                    i, sp, p(x), p(w), p(b), p(y), p(dy), p(dw), p(db), p(dx), sizes[i], r),
                    budget) for i in range(3)]
                torch.set_num_threads(1)
                t1 = torch_conv_times(x, w, b, st, pd, G, dy, budget, time.thread_time)
                torch.set_num_threads(threads_default)
                td = torch_conv_times(x, w, b, st, pd, G, dy, budget, time.perf_counter)
            else:
                _, name, i_, o_ = L
                x = rng.standard_normal((n, i_), dtype=np.float32)
                w = rng.standard_normal((o_, i_), dtype=np.float32)
                b = rng.standard_normal(o_, dtype=np.float32)
                dy = rng.standard_normal((n, o_), dtype=np.float32)
                y, dw, db, dx = (np.empty_like(a) for a in (dy, w, b, x))
                ours = [best_c(lambda r, k=k: lib.bench_fc(
                    k, p(x), p(w), p(b), p(y), p(dy), p(dw), p(db), p(dx), n, i_, o_, r),
                    budget) for k in range(3)]
                torch.set_num_threads(1)
                t1 = torch_fc_times(x, w, b, dy, budget, time.thread_time)
                torch.set_num_threads(threads_default)
                td = torch_fc_times(x, w, b, dy, budget, time.perf_counter)
            rows.append((name, n, ours, t1, td))
            print_row(rows[-1])
            sys.stdout.flush()
    return rows


HEAD = ("%-24s %3s | %8s %8s %8s | %8s %8s %8s | %5s %5s %5s %6s | %6s"
        % ("layer", "n", "fwd us", "dW us", "dX us", "t1 fwd", "t1 dW", "t1 dX",
           "r fwd", "r dW", "r dX", "r tot1", "r totD"))


def print_row(r):
    name, n, o, t1, td = r
    us = [v * 1e6 for v in o]
    u1 = [v * 1e6 for v in t1]
    rat = [a / b for a, b in zip(o, t1)]
    tot1 = sum(o) / sum(t1)
    totd = sum(o) / sum(td)
    print("%-24s %3d | %8.1f %8.1f %8.1f | %8.1f %8.1f %8.1f | %5.2f %5.2f %5.2f %6.2f | %6.2f"
          % (name, n, *us, *u1, *rat, tot1, totd))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=os.path.join(ROOT, "core_cy", "src"))
    ap.add_argument("--opt", default="-O3")
    ap.add_argument("--only", default="all", choices=("all", "conv", "fc"))
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--quick", action="store_true", help="shorter timing budget")
    ap.add_argument("--min-scratch", action="store_true",
                    help="conv kernels with the minimum (Cortex-M) scratch, not the host's")
    ap.add_argument("--gemm", help="force a GEMM micro-kernel set (default: the CPU's widest)")
    a = ap.parse_args()
    global MIN_SCRATCH
    MIN_SCRATCH = a.min_scratch
    lib = build(a.src, a.opt)
    if a.gemm and not lib.mt_gemm_select(a.gemm.encode()):
        sys.exit(f"kernel_speed: --gemm {a.gemm!r} is not available on this build or CPU")
    threads_default = torch.get_num_threads()
    budget = 0.001 if a.quick else 0.003
    print("torch %s, default threads %d; ours built with %s from %s, %s micro-kernels"
          % (torch.__version__, threads_default, a.opt, os.path.relpath(a.src, ROOT),
             lib.mt_gemm_variant_name().decode()))
    print("t1 = torch 1 thread; r = ours / torch (1 thread); r totD = total vs torch "
          "default threads; total = fwd + dW + dX")
    print(HEAD)
    print("-" * len(HEAD))
    rows = run(lib, [int(v) for v in a.batches.split(",")], a.only, budget, threads_default)
    tots = [sum(r[2]) / sum(r[3]) for r in rows]
    print("-" * len(HEAD))
    print("geomean total ratio vs torch 1 thread: %.2f; worst %.2f; rows > 0.5: %d / %d"
          % (float(np.exp(np.mean(np.log(tots)))), max(tots),
             sum(t > 0.5 for t in tots), len(tots)))


if __name__ == "__main__":
    main()
