"""Memory of every zoo model: lower bound, each planner's arena, ratios; and
swap to flash: step time and bytes moved at RAM budgets of 100/50/30% of the
arena, against the same model without swap, in the same process.

    python bench/memory.py [--batches 1,8,32] [--swap-batch 8] [--models mlp,lenet5]
                           [--iterations 6] [--repeats 3] [--no-swap] [--min-ram]
                           [--precision-only]

Ratios: arena / lower bound (1.0 is optimal); no-reuse / arena (what the
planner saves against allocating every tensor); swap time / no-swap time.
Swap runs against a file standing in for flash, read ahead on a background
thread (the Linux backend).

Integer precisions (always, or alone with --precision-only): at batch 8, the
int8 and fixed arenas against float32's for every zoo model (same optimizer,
scales calibrated on random inputs: sizes do not depend on them), and the
parameter bytes (weights + biases) ratio; a model whose layers have no integer
kernels yet says so.

--min-ram (batch 32, plus the digits CNN of issue 11): arena, lower bound and
the smallest RAM each technique reaches in turn (micro-batch 1, + swap,
+ recompute, + tiling, + fused update), the estimated time
factor at each, no-reuse / min_ram, and the measured host step time at the
last min_ram against the same micro-batching without a budget (file
backend), bit-identity checked."""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from host_tools.cli.common import build_graph
from host_tools.data import encode
from host_tools.model.load import load_model
from host_tools.planning.cost_model import time_factor
from host_tools.planning.min_ram import find_min_ram
from host_tools.planning.recompute_plan import for_min_ram
from host_tools.planning.techniques import apply_techniques
from host_tools.program import build_program
from host_tools.report.memory import memory_figures
from host_tools.session import Session
from host_tools.swap import SwapInfeasible

ZOO = Path(__file__).resolve().parent / "zoo"
MODELS = ("mlp", "lenet5", "vgg_small", "mobilenet", "resnet8", "dscnn", "mobilenet_finetune")
BUDGETS = (1.0, 0.5, 0.3)


def graph_for(model, batch, micro_batch=0):
    spec = load_model(ZOO / f"{model}.ini")
    spec.batch_size, spec.micro_batch = batch, micro_batch
    return build_graph(spec)


def memory_rows(models, batches):
    rows = []
    for model in models:
        for batch in batches:
            graph = graph_for(model, batch)
            figures = memory_figures(build_program(graph), graph)
            rows.append((model, batch, figures))
            print(f"  planned {model} batch {batch}", file=sys.stderr)
    return rows


def print_memory(rows):
    planners = list(rows[0][2]["planner_arena_bytes"])
    head = f"{'model':<20}{'batch':>6}{'lower bound':>14}" + "".join(
        f"{name + '/LB':>14}" for name in planners) + f"{'no-reuse/arena':>16}"
    print(head)
    ours = []
    for model, batch, f in rows:
        bound = f["lower_bound_bytes"]
        ratios = [f["planner_arena_bytes"][name] / bound for name in planners]
        ours.append(f["planner_arena_bytes"]["optimal"] / bound)
        print(f"{model:<20}{batch:>6}{bound:>14,}" + "".join(f"{r:>14.4f}" for r in ratios)
              + f"{f['no_reuse_bytes'] / f['arena_bytes']:>16.2f}")
    print(f"optimal planner arena / lower bound: mean {statistics.mean(ours):.4f}, "
          f"worst {max(ours):.4f}")
    batch32 = [f["no_reuse_bytes"] / f["arena_bytes"] for _, b, f in rows if b == 32]
    if batch32:
        print(f"no-reuse / arena at batch 32: mean {statistics.mean(batch32):.2f}, "
              f"min {min(batch32):.2f}")


PRECISION_BATCH = 8


def _integer_program(model, precision):
    from host_tools.data import DataSet
    from host_tools.quantize.prepare import float_graph_of, quantized_graph
    spec = load_model(ZOO / f"{model}.ini")
    spec.batch_size, spec.precision = PRECISION_BATCH, precision
    float_graph = float_graph_of(spec, 0)
    x, y = _random_samples(float_graph)
    graph, _ = quantized_graph(spec, float_graph.label_kind, DataSet(x, y), None, 0)
    return build_program(graph)


def _random_samples(graph, n=64):
    rng = np.random.default_rng(0)
    classes = graph.tensors[graph.output].numel // graph.batch
    return (rng.standard_normal((n, *graph.tensors[graph.input].shape[1:])).astype(np.float32),
            rng.integers(0, max(classes, 2), n))


def _parameter_bytes(program):
    from host_tools.weights import npz_params
    return sum(t.nbytes for t in npz_params(program.graph).values())


def precision_rows(models):
    """int8 / fixed arena and parameter bytes against float32 at batch 8."""
    from host_tools.errors import UserError
    print(f"\ninteger precisions, batch {PRECISION_BATCH}: arena and parameter bytes "
          f"against float32 (target int8/float32 arena <= 0.35)")
    print(f"{'model':<20}{'float32 arena':>15}{'int8 arena':>12}{'int8/f32':>10}"
          f"{'fixed/f32':>11}{'int8 params/f32':>17}")
    for model in models:
        base = build_program(graph_for(model, PRECISION_BATCH))
        try:
            int8, fixed = (_integer_program(model, p) for p in ("int8", "fixed"))
        except UserError as error:
            print(f"{model:<20}{base.arena_bytes:>15,}  n/a: {str(error).split(': ', 1)[-1]}")
            continue
        print(f"{model:<20}{base.arena_bytes:>15,}{int8.arena_bytes:>12,}"
              f"{int8.arena_bytes / base.arena_bytes:>10.3f}"
              f"{fixed.arena_bytes / base.arena_bytes:>11.3f}"
              f"{_parameter_bytes(int8) / _parameter_bytes(base):>17.3f}")


def random_data(graph, n_batches, seed=0):
    rng = np.random.default_rng(seed)
    n = graph.batch * n_batches
    sample = graph.tensors[graph.input].shape[1:]
    classes = graph.tensors[graph.output].numel // graph.batch
    return encode(rng.standard_normal((n, *sample)).astype(np.float32),
                  rng.integers(0, classes, n), graph)


def step_time(program, x, y, iterations, repeats, swap_dir):
    """Median seconds per iteration (after one warm-up call)."""
    session = Session(program, seed=0, swap_file=None if program.swap is None
                      else f"{swap_dir}/flash.bin")
    order = np.arange(len(x), dtype=np.int32)
    session.train(x, y, order, 0, 1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.train(x, y, order, 0, iterations)
        times.append((time.perf_counter() - start) / iterations)
    return statistics.median(times), session


def swap_rows(models, batch, iterations, repeats):
    print(f"\nswap to flash, batch {batch} (file backend, prefetch on a background thread)")
    print(f"{'model':<20}{'budget':>7}{'arena':>12}{'time/no-swap':>14}"
          f"{'read B/it':>12}{'write B/it':>12}  bit-identical")
    half = []
    for model in models:
        graph = graph_for(model, batch)
        base = build_program(graph)
        x, y = random_data(graph, iterations)
        with tempfile.TemporaryDirectory() as swap_dir:
            reference, ref_session = step_time(base, x, y, iterations, repeats, swap_dir)
            for fraction in BUDGETS:
                factor = _swap_row(model, graph, base, fraction,
                                   (x, y, iterations, repeats, swap_dir), reference, ref_session)
                if fraction == 0.5 and factor is not None:
                    half.append((factor, model))
    if half:
        worst, model = max(half)
        print(f"at 50% of the arena the file backend (asynchronous write-back) costs at most "
              f"{worst - 1:+.0%} step time ({model}); target <= +10%")


def _swap_row(model, graph, base, fraction, run, reference, ref_session):
    budget = int(base.arena_bytes * fraction)
    try:
        program = build_program(graph, ram_budget=budget)
    except SwapInfeasible as error:
        print(f"{model:<20}{fraction:>7.0%}  infeasible: smallest budget "
              f"{error.min_budget:,} B ({error.min_budget / base.arena_bytes:.0%} of the arena)")
        return
    seconds, session = step_time(program, *run)
    swap = program.swap
    same = all(np.array_equal(a, b) for a, b in
               zip(session.weights().values(), ref_session.weights().values()))
    read = swap.read_bytes_per_iteration if swap else 0
    write = swap.write_bytes_per_iteration if swap else 0
    print(f"{model:<20}{fraction:>7.0%}{program.arena_bytes:>12,}{seconds / reference:>14.2f}"
          f"{read:>12,}{write:>12,}  {'yes' if same else 'NO'}")
    return seconds / reference


def min_ram_rows(models, iterations, repeats):
    print("\nsmallest RAM at batch 32, each technique added in turn (micro-batch 1, +swap, "
          "+recompute, +tiling, +fused update); est = estimated step time factor (host cost "
          "table); measured = host step time at the last min_ram / same micro-batching without "
          "a budget (file backend)")
    print(f"{'model':<14}{'no-reuse':>12}{'arena':>12}{'lower bd':>12}{'micro 1':>12}"
          f"{'+swap':>12}{'+recomp':>12}{'+tiling':>12}{'+fused':>12}{'no-reuse/min':>13}"
          f"{'est x':>22}{'measured x':>11}  bit-identical")
    verdicts = []
    for model in models:
        whole = graph_for(model, 32)
        figures = memory_figures(build_program(whole), whole)
        micro = graph_for(model, 32, micro_batch=1)
        steps = [build_program(micro).arena_bytes]
        swapped = find_min_ram(micro)
        recomputed_graph = for_min_ram(micro).graph
        recomputed = find_min_ram(recomputed_graph)
        tiled = find_min_ram(apply_techniques(graph_for(model, 32, micro_batch=1), fused=False))
        fused_graph = apply_techniques(graph_for(model, 32, micro_batch=1))
        fused = find_min_ram(fused_graph)
        found = [swapped, recomputed, tiled, fused]
        steps += [f.min_ram_bytes for f in found]
        est = "/".join(f"{time_factor(f.program, micro):.1f}" for f in found)
        factor, same = _time_factor(micro, fused.program, iterations, repeats)
        print(f"{model:<14}{figures['no_reuse_bytes']:>12,}{figures['arena_bytes']:>12,}"
              f"{figures['lower_bound_bytes']:>12,}" + "".join(f"{b:>12,}" for b in steps)
              + f"{figures['no_reuse_bytes'] / fused.min_ram_bytes:>13.1f}{est:>22}"
              f"{factor:>11.2f}  {'yes' if same else 'NO'}")
        verdicts.append(_verdict(model, figures["no_reuse_bytes"], fused, fused_graph))
    print("targets: digits_small <= 12,288 B (AIfES 27,336 B); no-reuse/min >= 20 for every CNN")
    for line in verdicts:
        print(line)


DIGITS_TARGET, RATIO_TARGET = 12_288, 20.0


def _verdict(model, no_reuse, found, graph):
    """One line: the model against its target, and the floor when it is missed."""
    tiled = ", ".join(f"{layer} x{k}" for layer, k in graph.tiled_layers.items()) or "nothing"
    if model == "digits_small":
        ok, figure = found.min_ram_bytes <= DIGITS_TARGET, \
            f"min_ram {found.min_ram_bytes:,} B vs {DIGITS_TARGET:,} B"
    else:
        ok, figure = no_reuse / found.min_ram_bytes >= RATIO_TARGET, \
            f"no-reuse/min {no_reuse / found.min_ram_bytes:.1f}x vs {RATIO_TARGET:.0f}x"
    if model == "mlp":
        return f"  {model:<14}{figure}: no target (not a CNN) (tiled: {tiled})"
    floor = "" if ok else f"; floor {found.operand_floor:,} B (the largest op's operands)"
    return f"  {model:<14}{figure}: {'met' if ok else 'MISSED'} (tiled: {tiled}){floor}"


def _time_factor(graph, program, iterations, repeats):
    """Measured step time of `program` / `graph` unbudgeted, and whether the weights agree."""
    x, y = random_data(graph, iterations * graph.micro_batches)
    with tempfile.TemporaryDirectory() as swap_dir:
        reference, ref_session = step_time(build_program(graph), x, y, iterations, repeats,
                                           swap_dir)
        seconds, session = step_time(program, x, y, iterations, repeats, swap_dir)
    same = all(np.array_equal(a, b) for a, b in
               zip(session.weights().values(), ref_session.weights().values()))
    return seconds / reference, same


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--swap-batch", type=int, default=8)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-swap", action="store_true")
    parser.add_argument("--precision-only", action="store_true",
                        help="only the int8 / fixed against float32 table")
    parser.add_argument("--min-ram", action="store_true",
                        help="only the smallest-RAM table (slow: a swap search per model)")
    args = parser.parse_args()
    from model_names import pick_models   # bench/, the script's own folder
    models = pick_models(args.models, sorted(p.stem for p in ZOO.glob("*.ini")), "memory")
    if args.min_ram:
        min_ram_rows(["digits_small", *models], args.iterations, args.repeats)
        return
    if args.precision_only:
        precision_rows(models)
        return
    print_memory(memory_rows(models, [int(b) for b in args.batches.split(",")]))
    precision_rows(models)
    if not args.no_swap:
        swap_rows(models, args.swap_batch, args.iterations, args.repeats)


if __name__ == "__main__":
    main()
