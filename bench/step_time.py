"""Per-iteration training time: microtrain (Session.train, the whole loop in
C) vs PyTorch CPU on the same models, batch sizes 1, 8 and 32.

    python bench/step_time.py [--repeats 5] [--seconds 0.3] [--models mlp,cnn]
                              [--threads N] [--gemm scalar|sse|avx2|avx512]
                              [--no-precision] [--cpu-time]

Each cell is the median over repeats of (elapsed / iterations), after a
warm-up, timed with time.perf_counter; --cpu-time times the calling thread's
CPU time instead (time.thread_time: microtrain and PyTorch at 1 thread both
run there), which time other jobs take from the core does not inflate. PyTorch runs the same graph (the
tests' TorchTwin interpreter, grads not retained) with a plain
zero_grad / forward / loss / backward / step loop, once with
torch.set_num_threads(1) and once with its default thread count.
Ratio = microtrain / torch: below 1 means microtrain is faster.

Then (alone with --precision-only) int8 and fixed (int16) against float32 on
the host, same C executor, every model with SGD momentum 0.9 in all three
(the integer kernels have SGD only); a model whose layers have no integer
kernels yet says so. Ratio = integer / float32 time per iteration.
"""
import argparse
import statistics
from dataclasses import replace
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as Fn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the PyTorch twin lives with the golden tests

from core_cy._core import gemm_variant, select_gemm, set_threads  # noqa: E402
from host_tools.cli.common import label_kind_for  # noqa: E402
from host_tools.data import encode  # noqa: E402
from host_tools.graph.host_scratch import widen_host_scratch  # noqa: E402
from host_tools.graph.training_graph import build_training_graph  # noqa: E402
from host_tools.model.api import Model  # noqa: E402
from host_tools.model.load import load_model  # noqa: E402
from host_tools.program import build_program  # noqa: E402
from host_tools.session import Session  # noqa: E402
from torch_reference import TorchTwin, make_optimizer  # noqa: E402
from model_names import pick_models  # noqa: E402  (bench/, the script's own folder)

BATCHES = (1, 8, 32)
N_SAMPLES = 256


def mlp_100k():
    """784 -> 128 -> 10: 101,770 parameters."""
    m = Model(loss="cross", optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape="1:1:784")   # FC acts on the last axis
    m.add("fc1", "fully_connected", unit=128, activation="relu")
    m.add("fc2", "fully_connected", unit=10, activation="softmax")
    return m.spec()


def mlp_512x3():
    """784 -> 512 -> 512 -> 512 -> 10 (the NNTrainer/OpenBLAS comparison of issue 14)."""
    m = Model(loss="cross", optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape="1:1:784")
    for i in range(3):
        m.add(f"fc{i}", "fully_connected", unit=512, activation="relu")
    m.add("out", "fully_connected", unit=10, activation="softmax")
    return m.spec()


MODELS = {
    "mlp (digits)": lambda: load_model(ROOT / "examples" / "digits_mlp.ini"),
    "cnn (digits)": lambda: load_model(ROOT / "examples" / "digits_cnn.ini"),
    "lenet5 32x32": lambda: load_model(ROOT / "bench" / "zoo" / "lenet5.ini"),
    "mlp 784-128-10": mlp_100k,
    "mlp 784-512x3-10": mlp_512x3,
}
# Batch sizes per model (default BATCHES).
MODEL_BATCHES = {"mlp 784-512x3-10": (64,)}


def random_data(graph, seed=0):
    g = np.random.default_rng(seed)
    sample = graph.tensors[graph.input].shape[1:]
    classes = graph.tensors[graph.output].numel // graph.batch
    x = g.standard_normal((N_SAMPLES, *sample)).astype(np.float32)
    return x, g.integers(0, classes, N_SAMPLES)


CLOCK = {"clock": time.perf_counter}   # time.thread_time with --cpu-time


def median_step(run, seconds, repeats):
    """Median seconds per iteration; run(n) trains n iterations."""
    clock = CLOCK["clock"]
    run(2)  # warm-up (caches, allocator, lazy init)
    start = clock()
    run(3)
    per_iter = (clock() - start) / 3
    n_iter = max(3, int(seconds / max(per_iter, 1e-7)))
    times = []
    for _ in range(repeats):
        start = clock()
        run(n_iter)
        times.append((clock() - start) / n_iter)
    return statistics.median(times)


def microtrain_step(graph, x_rows, y_bytes, seconds, repeats):
    session = Session(build_program(graph), seed=0)
    order = np.arange(len(x_rows), dtype=np.int32)
    return median_step(lambda n: session.train(x_rows, y_bytes, order, 0, n), seconds, repeats)


def torch_step(graph, x, y, seconds, repeats):
    twin = TorchTwin(graph, keep_grads=False)
    twin.train()
    optimizer = make_optimizer(graph.spec, twin.parameters())
    batches = [(torch.from_numpy(x[i:i + graph.batch]), torch.from_numpy(y[i:i + graph.batch]))
               for i in range(0, len(x) - graph.batch + 1, graph.batch)]

    def run(n_iter):
        for it in range(n_iter):
            xb, yb = batches[it % len(batches)]
            optimizer.zero_grad()
            Fn.cross_entropy(twin(xb), yb).backward()
            optimizer.step()
    return median_step(run, seconds, repeats)


def parameter_count(graph):
    return sum(t.numel for t in graph.tensors if t.kind == "weight")


def measure(name, spec, batch, threads, seconds, repeats):
    spec.batch_size = batch
    x, y = random_data(build_training_graph(spec))
    graph = build_training_graph(spec, label_kind_for(spec, y))
    widen_host_scratch(graph)   # as `microtrain train` on the host (a Linux board)
    x_rows, y_bytes = encode(x, y, graph)
    ours = microtrain_step(graph, x_rows, y_bytes, seconds, repeats)
    theirs = {}
    for count in threads:
        torch.set_num_threads(count)
        theirs[count] = torch_step(graph, x_rows.reshape(x.shape), y.astype(np.int64), seconds,
                                   repeats)
    return parameter_count(graph), ours, theirs


def _precision_step(spec, precision, batch, seconds, repeats):
    from host_tools.data import DataSet
    from host_tools.model.spec import OptimizerSpec
    from host_tools.quantize.prepare import quantized_graph
    spec.batch_size, spec.precision = batch, precision
    spec.optimizer = OptimizerSpec(type="sgd", learning_rate=0.01, momentum=0.9)
    float_graph = build_training_graph(replace(spec, precision="float32"))
    x, y = random_data(float_graph)
    graph = float_graph if precision == "float32" else \
        quantized_graph(spec, float_graph.label_kind, DataSet(x, y), None, 0)[0]
    x_rows, y_bytes = encode(x, y, graph)
    return microtrain_step(graph, x_rows, y_bytes, seconds, repeats)


def precision_rows(models, seconds, repeats):
    from host_tools.errors import UserError
    print(f"\n{'model':16} {'batch':>5}  float32 ms   int8 ms  int8/f32  fixed ms  fixed/f32")
    for name in models:
        for batch in BATCHES:
            try:
                f32, int8, fixed = (_precision_step(MODELS[name](), p, batch, seconds, repeats)
                                    for p in ("float32", "int8", "fixed"))
            except UserError as error:
                print(f"{name:16}  n/a: {str(error).split(': ', 1)[-1]}")
                break
            print(f"{name:16} {batch:5d}  {1e3 * f32:10.3f} {1e3 * int8:9.3f} {int8 / f32:9.2f}"
                  f" {1e3 * fixed:9.3f} {fixed / f32:10.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3, help="per repeat")
    parser.add_argument("--threads", type=int, default=1, help="microtrain kernel threads")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--precision-only", action="store_true",
                        help="only the int8 / fixed against float32 table")
    parser.add_argument("--no-precision", action="store_true",
                        help="skip the int8 / fixed against float32 table")
    parser.add_argument("--gemm", help="force a GEMM micro-kernel set (default: the CPU's widest)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="calling thread's CPU time (1 thread only) instead of wall time")
    args = parser.parse_args()
    models = pick_models(args.models, list(MODELS), "step_time")
    if args.threads < 1 or args.threads > 64:
        sys.exit(f"step_time: --threads must be 1..64, got {args.threads}")
    if args.cpu_time and args.threads != 1:
        sys.exit("step_time: --cpu-time measures one thread: give --threads 1")
    if args.cpu_time:
        CLOCK["clock"] = time.thread_time
    set_threads(args.threads)
    if args.gemm:
        try:
            select_gemm(args.gemm)
        except ValueError as error:
            sys.exit(f"step_time: --gemm: {error}")
    if args.precision_only:
        precision_rows(models, args.seconds, args.repeats)
        return
    print(f"microtrain: {args.threads} kernel thread(s), {gemm_variant()} micro-kernels")
    default_threads = torch.get_num_threads()
    threads = (1, default_threads) if default_threads != 1 and not args.cpu_time else (1,)
    heads = "".join(f"  torch {n}t ms  ratio" for n in threads)
    print(f"{'model':16} {'params':>8} {'batch':>5}  microtrain ms{heads}")
    for name in models:
        for batch in MODEL_BATCHES.get(name, BATCHES):
            params, ours, theirs = measure(name, MODELS[name](), batch, threads, args.seconds,
                                           args.repeats)
            cells = "".join(f"  {1e3 * t:11.3f} {ours / t:6.2f}" for t in theirs.values())
            print(f"{name:16} {params:8d} {batch:5d}  {1e3 * ours:13.3f}{cells}", flush=True)
    print(f"ratio = microtrain / torch (<1: microtrain faster); torch default threads = "
          f"{default_threads}")
    if not args.no_precision:
        precision_rows(models, args.seconds, args.repeats)


if __name__ == "__main__":
    main()
