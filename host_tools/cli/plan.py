"""microtrain plan: the execution order, tensor lifespans, the arena plan,
the swap schedule under a RAM budget, and the bundle for a device."""
import json
import sys

from host_tools.bundle import write_bundle
from host_tools.cli.arguments import U16_MAX, U32_MAX, integer, output_file
from host_tools.bundle.from_program import bundle_content
from host_tools.cli.common import (add_budget_arguments, add_model_arguments,
                                   add_precision_arguments, budget_graph, build_graph,
                                   cost_target, load_spec, plan_program)
from host_tools.planning.cost_model import time_factor
from host_tools.data import load_data
from host_tools.errors import UserError
from host_tools.graph.tiling import tiled_op_labels
from host_tools.planning.min_ram import find_min_ram
from host_tools.device.targets import RAM_BYTES, TARGET_NAMES
from host_tools.report.explain import explain
from host_tools.report.memory import format_figures, memory_figures
from host_tools.weights import load_weights_npz


def register(commands):
    parser = commands.add_parser("plan", help="plan the training memory of a model",
                                 description="Build the training graph of MODEL, plan its "
                                             "tensors into one static arena and report the "
                                             "lower bound and every planner's arena.")
    add_model_arguments(parser)
    add_precision_arguments(parser)
    add_budget_arguments(parser)
    parser.add_argument("--explain", action="store_true",
                        help="print the execution order and every tensor's size and lifespan")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--min-ram", action="store_true",
                        help="find the smallest RAM the model trains in (swap, micro-batch) "
                             "and plan at it")
    parser.add_argument("--timeline", type=output_file, metavar="OUT.png",
                        help="draw the memory map (op on x, arena offset on y)")
    parser.add_argument("-o", "--output", type=output_file, metavar="OUT.mtb", help="write a bundle for a device")
    parser.add_argument("--data", help="'digits' or an npz to carry in the bundle (optional)")
    parser.add_argument("--epochs", type=integer(1, U16_MAX), metavar="N",
                        help="epochs the device trains (1..65535, default: the model's)")
    parser.add_argument("--checkpoint-every", type=integer(0, U32_MAX), default=0, metavar="N",
                        help="iterations between device checkpoints (default 0: at the end only)")
    parser.add_argument("--seed", type=integer(0, U32_MAX), default=0, metavar="S",
                        help="weight init and shuffle seed (0..4294967295, default 0)")
    parser.add_argument("--init-weights", metavar="W.npz",
                        help="start the device from these weights (e.g. pretrained on the host)")
    parser.add_argument("--target", choices=TARGET_NAMES[1:],
                        help="plan under that board's RAM (e.g. baremetal-m4f: 224 KiB for the "
                             "arena), swapping to flash when the arena does not fit")
    parser.set_defaults(run=run)


def run(args):
    if args.target and not args.ram_budget and not args.min_ram:
        args.ram_budget = RAM_BYTES[args.target]
    spec = load_spec(args)
    data = load_data(args.data) if args.data else None
    if args.output and spec.precision != "float32" and data is None:
        raise UserError(f"precision {spec.precision}: a bundle needs --data D (its scales are "
                        f"calibrated on the data)")
    graph = budget_graph(args, spec, data)
    # the time factor compares with the same model without the techniques
    baseline = build_graph(spec, data.y if data else None) if graph.quant is None else graph
    if args.min_ram:
        if args.ram_budget is not None:
            raise UserError("--min-ram and --ram-budget exclude each other")
        found = find_min_ram(graph, args.planner, args.lookahead)
        program = found.program
        figures = memory_figures(program, graph, found.min_ram_bytes, program.swap)
        figures.update(found.figures())
    else:
        program = plan_program(args, graph)
        figures = memory_figures(program, graph, args.ram_budget, program.swap)
    figures["precision"] = spec.precision
    figures["swapped_tensors"] = sorted(graph.tensors[t].name for t in program.swap.swapped) \
        if program.swap else []
    figures["fused_updates"] = graph.fused_layers
    figures["recomputed_tensors"] = graph.recomputed
    figures["recompute_ops_per_iteration"] = graph.recompute_ops
    figures["tiled_ops"] = tiled_op_labels(graph)
    figures["tiled_layers"] = dict(graph.tiled_layers)
    figures["estimated_time_factor"] = round(time_factor(program, baseline, cost_target(args.target)), 4)
    if args.timeline:
        _draw(program, args.timeline)
    if args.output:
        weights = load_weights_npz(args.init_weights, graph) \
            if args.init_weights and graph.quant is None else None
        content = bundle_content(program, seed=args.seed, epochs=args.epochs or spec.epochs,
                                 checkpoint_interval=args.checkpoint_every, data=data,
                                 weights=weights)
        write_bundle(args.output, content)
        if spec.lr_schedule is not None and spec.lr_schedule.type != "constant":
            print(f"microtrain: warning: {spec.source}: the {spec.lr_schedule.type} learning-rate "
                  f"schedule runs in host training only; the bundle trains at "
                  f"{spec.optimizer.learning_rate:g}", file=sys.stderr)
        figures["bundle"] = args.output
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    if args.explain:
        print(explain(program))
        print()
    print(format_figures(figures))
    if spec.precision != "float32":
        print(f"  precision {spec.precision}{'' if spec.qas else ' without QAS'}: "
              f"integer tensors planned at their own byte sizes; fused weight updates: "
              f"{', '.join(figures['fused_updates']) or 'none'}")
    if args.min_ram:
        print(f"min RAM {figures['min_ram_bytes']:,} B (micro-batch {graph.batch} x "
              f"{graph.micro_batches}, {len(figures['swapped_tensors'])} tensors swapped; "
              f"operand floor {figures['operand_floor_bytes']:,} B)")
    if args.min_ram or args.ram_budget is not None:
        print(_how(figures))
    if args.output:
        print(f"bundle written to {args.output}")
    return 0


def _draw(program, path):
    from host_tools.planning.timeline import draw_timeline
    names = {t.id: t.name for t in program.graph.tensors}
    swapped = set(program.swap.swapped) if program.swap is not None else set()
    graph = program.graph   # a recomputed copy may share bytes with (be an alias of) another
    recomputed = {graph.alias.get(t.id, t.id) for t in graph.tensors
                  if t.name.endswith("/recomputed")}
    tiled = {graph.alias.get(c, c) for chunks in graph.chunks.values() for c in chunks}
    draw_timeline(program.buffers, program.plan, path, names=names, swapped_ids=swapped,
                  recomputed_ids=recomputed, tiled_ids=tiled,
                  title=f"{program.graph.spec.source} (batch {program.graph.batch})")


def _how(figures):
    """One line: what the budget plan swaps, recomputes and fuses, and its time estimate."""
    swapped = figures["swapped_tensors"]
    parts = [f"swapped: {', '.join(swapped) or 'none'}",
             f"recomputed: {', '.join(figures['recomputed_tensors']) or 'none'}",
             f"fused updates: {', '.join(figures['fused_updates']) or 'none'}",
             f"tiled: {_tiled_text(figures['tiled_layers'])}",
             f"estimated time x{figures['estimated_time_factor']:.2f}"]
    return "; ".join(parts)


def _tiled_text(layers):
    """'fc1 in 8 chunks, fc2 in 2 chunks' (weights split by output rows), or 'none'."""
    return ", ".join(f"{layer} in {chunks} chunks" for layer, chunks in layers.items()) or "none"
