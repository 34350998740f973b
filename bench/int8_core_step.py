"""Host time of one training step of an MLP in float32, int8 and fixed (int16),
all with SGD + momentum 0.9 (integer: m16 momentum; "fused": the weight
gradient fused with its update, QFC_GRAD_QSGD, as integer graphs run by default),
the same layer list hand-built as ops on the C executor (Executor.train, the
loop in C) -- the core's kernels alone, before the host graph builder knows the
integer kinds. Arena bytes are printed beside the times.

    python bench/int8_core_step.py [--sizes 64,64,10] [--batch 32] [--seconds 0.5]

int8 / fixed time ratio < 1 means faster than float32."""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core_cy import OP_KINDS, Executor  # noqa: E402
from host_tools.bundle.layout import make_op  # noqa: E402

FWD, GRAD, DERIV, APPLY = 0, 1, 2, 3


class Arena:
    def __init__(self):
        self.table, self.end, self.ids = [], 0, {}

    def __call__(self, name, nbytes):
        self.ids[name] = len(self.table)
        self.table.append((self.end, nbytes))
        self.end += (nbytes + 3) // 4 * 4
        return self.ids[name]


def layer_names(sizes):
    return [("X" if i == 0 else "A%d" % i, "A%d" % (i + 1), i) for i in range(len(sizes) - 1)]


def float_ops(sizes, n, momentum=0.9):
    a, ops = Arena(), []
    for name, shape in [("X", n * sizes[0]), ("T", n), ("M", 2), ("P", n * sizes[-1])]:
        a(name, 4 * shape)
    for x, y, i in layer_names(sizes):
        a(y, 4 * n * sizes[i + 1]), a("W%d" % i, 4 * sizes[i] * sizes[i + 1]), a("B%d" % i, 4 * sizes[i + 1])
        a("d" + y, 4 * n * sizes[i + 1]), a("dW%d" % i, 4 * sizes[i] * sizes[i + 1]), a("dB%d" % i, 4 * sizes[i + 1])
        ops.append(make_op(OP_KINDS["FC_FWD"], FWD, [a.ids[x], a.ids["W%d" % i], a.ids["B%d" % i], a.ids[y]],
                           [n, sizes[i], sizes[i + 1]]))
        if i < len(sizes) - 2:
            ops.append(make_op(OP_KINDS["ACT_FWD"], FWD, [a.ids[y], a.ids[y]], [n, sizes[i + 1], 0]))
    last = "A%d" % (len(sizes) - 1)
    ops.append(make_op(OP_KINDS["LOSS_CE_SOFTMAX_FWD"], FWD, [a.ids[last], a.ids["T"], a.ids["P"], a.ids["M"]],
                       [n, sizes[-1], 0, 0]))
    ops.append(make_op(OP_KINDS["LOSS_CE_SOFTMAX_DERIV"], DERIV, [a.ids["P"], a.ids["T"], a.ids["d" + last]],
                       [n, sizes[-1], 0, 0]))
    for x, y, i in reversed(layer_names(sizes)):
        if i < len(sizes) - 2:
            ops.append(make_op(OP_KINDS["ACT_DERIV"], DERIV, [a.ids[y], a.ids["d" + y], a.ids["d" + y]],
                               [n, sizes[i + 1], 0]))
        ops.append(make_op(OP_KINDS["FC_GRAD"], GRAD, [a.ids[x], a.ids["d" + y], a.ids["dW%d" % i],
                                                       a.ids["dB%d" % i]], [n, sizes[i], sizes[i + 1]]))
        if i > 0:
            ops.append(make_op(OP_KINDS["FC_DERIV"], DERIV, [a.ids["d" + y], a.ids["W%d" % i], a.ids["d" + x]],
                               [n, sizes[i], sizes[i + 1]]))
        for w, numel in (("W%d" % i, sizes[i] * sizes[i + 1]), ("B%d" % i, sizes[i + 1])):
            slots = [a.ids[w], a.ids["d" + w]] + ([a("M" + w, 4 * numel)] if momentum else [])
            ops.append(make_op(OP_KINDS["SGD_APPLY"], APPLY, slots, [numel, 0], [0.01, momentum]))
    return a, ops


def int_ops(sizes, n, e, fused=False):
    """fused: QFC_BIAS_GRAD + QFC_GRAD_QSGD per layer (no dW tensor) instead of
    QFC_GRAD + the weight's QSGD_APPLY."""
    a, ops = Arena(), []
    g16 = lambda numel: 4 + 2 * numel  # noqa: E731
    for name, nbytes in [("X32", 4 * n * sizes[0]), ("T", 4 * n), ("M", 8), ("P", 4 * n * sizes[-1]),
                         ("X", e * n * sizes[0]), ("RNG", 4)]:
        a(name, nbytes)
    for x, y, i in layer_names(sizes):
        i_n, o_n = sizes[i], sizes[i + 1]
        for name, nbytes in [(y, e * n * o_n), ("W%d" % i, e * i_n * o_n), ("B%d" % i, 4 * o_n),
                             ("RQ%d" % i, 8 * o_n), ("WS%d" % i, 4 * o_n), ("d" + y, g16(n * o_n)),
                             ("dB%d" % i, g16(o_n)), ("LW%d" % i, 8 * o_n), ("LB%d" % i, 8 * o_n),
                             ("MW%d" % i, g16(i_n * o_n)), ("MB%d" % i, g16(o_n))]:
            a(name, nbytes)
        a("GE%d" % i, 4) if fused else a("dW%d" % i, g16(i_n * o_n))
    ops.append(make_op(OP_KINDS["QNARROW"], FWD, [a.ids["X32"], a.ids["X"]], [n * sizes[0], e]))
    for x, y, i in layer_names(sizes):
        ops.append(make_op(OP_KINDS["QFC_FWD"], FWD, [a.ids[k] for k in (x, "W%d" % i, "B%d" % i, y, "RQ%d" % i)],
                           [n, sizes[i], sizes[i + 1], e, 0, 0]))
        if i < len(sizes) - 2:
            ops.append(make_op(OP_KINDS["QRELU_FWD"], FWD, [a.ids[y], a.ids[y]], [n * sizes[i + 1], e, 0]))
    last = "A%d" % (len(sizes) - 1)
    ops.append(make_op(OP_KINDS["QCE_SOFTMAX_FWD"], FWD, [a.ids[k] for k in (last, "T", "P", "M")],
                       [n, sizes[-1], e, 20000, 8]))
    ops.append(make_op(OP_KINDS["QCE_SOFTMAX_DERIV"], DERIV, [a.ids[k] for k in ("P", "T", "d" + last)],
                       [n, sizes[-1]]))
    for x, y, i in reversed(layer_names(sizes)):
        if i < len(sizes) - 2:
            ops.append(make_op(OP_KINDS["QRELU_DERIV"], DERIV, [a.ids[y], a.ids["d" + y], a.ids["d" + y]],
                               [n * sizes[i + 1], e, 0]))
        if fused:
            ops.append(make_op(OP_KINDS["QFC_BIAS_GRAD"], GRAD, [a.ids["d" + y], a.ids["dB%d" % i]],
                               [n, sizes[i + 1]]))
        else:
            ops.append(make_op(OP_KINDS["QFC_GRAD"], GRAD,
                               [a.ids[k] for k in (x, "d" + y, "dW%d" % i, "dB%d" % i)],
                               [n, sizes[i], sizes[i + 1], e, 0]))
        if i > 0:
            ops.append(make_op(OP_KINDS["QFC_DERIV"], DERIV,
                               [a.ids[k] for k in ("d" + y, "W%d" % i, "WS%d" % i, "d" + x)],
                               [n, sizes[i], sizes[i + 1], e, 20]))
        if fused:
            ops.append(make_op(OP_KINDS["QFC_GRAD_QSGD"], APPLY,
                               [a.ids[k] for k in (x, "d" + y, "W%d" % i, "LW%d" % i, "RNG", "MW%d" % i,
                                                   "GE%d" % i)],
                               [n, sizes[i], sizes[i + 1], e, 0, 29491]))
        steps = (("B%d" % i, "LB%d" % i, "MB%d" % i, sizes[i + 1], 4),)
        if not fused:
            steps = (("W%d" % i, "LW%d" % i, "MW%d" % i, sizes[i] * sizes[i + 1], e),) + steps
        for w, lr, mom, numel, we in steps:
            ops.append(make_op(OP_KINDS["QSGD_APPLY"], APPLY, [a.ids[k] for k in (w, "d" + w, lr, "RNG", mom)],
                               [numel, we, sizes[i + 1], 29491]))
    return a, ops


def executor(arena, ops, inputs, metrics, floats):
    ex = Executor(np.stack(ops), np.array(arena.table, np.uint32), arena.end, arena.ids[inputs],
                  arena.ids["T"], arena.ids[metrics], arena.ids["P"])
    g = np.random.default_rng(0)
    if floats:  # small weights (no NaN or denormal slow paths)
        ex.arena.view(np.float32)[:] = g.standard_normal(ex.arena.size // 4) * 0.1
    else:       # any integers: multipliers and shifts are clamped by the kernels
        ex.arena[:] = g.integers(0, 256, ex.arena.size, dtype=np.uint8)
    return ex


def seconds_per_step(ex, x, y, n_samples, budget):
    order = np.arange(n_samples, dtype=np.int32)
    ex.train(x, y, order, 0, 2)
    iterations, start = 0, time.perf_counter()
    while time.perf_counter() - start < budget:
        ex.train(x, y, order, iterations, 20)
        iterations += 20
    return (time.perf_counter() - start) / iterations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,64,10")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        if len(sizes) < 2 or min(sizes) < 1 or args.batch < 1 or args.seconds <= 0:
            raise ValueError
    except ValueError:
        sys.exit("int8_core_step.py: --sizes wants two or more positive integers, --batch and --seconds > 0")
    n, samples = args.batch, 4 * args.batch
    g = np.random.default_rng(1)
    y = g.integers(0, sizes[-1], samples).astype(np.int32).view(np.uint8).reshape(samples, 4)
    x_float = g.standard_normal((samples, sizes[0])).astype(np.float32)
    x_int = g.integers(-128, 128, (samples, sizes[0])).astype(np.int32).view(np.float32)
    rows = [("float32", executor(*float_ops(sizes, n), "X", "M", True), x_float)]
    for name, e in (("int8", 1), ("fixed", 2)):
        rows.append((name, executor(*int_ops(sizes, n, e), "X32", "M", False), x_int))
        rows.append((name + " fused", executor(*int_ops(sizes, n, e, fused=True), "X32", "M", False),
                     x_int))
    base = None
    print("MLP %s, batch %d" % ("-".join(map(str, sizes)), n))
    print("%-12s %12s %8s %12s" % ("", "us/step", "ratio", "arena bytes"))
    for name, ex, x in rows:
        t = seconds_per_step(ex, x, y, samples, args.seconds)
        base = base or t
        print("%-12s %12.1f %8.2f %12d" % (name, t * 1e6, t / base, ex.arena.size))


if __name__ == "__main__":
    main()
