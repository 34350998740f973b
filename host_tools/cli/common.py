"""Pieces several subcommands share: model loading with overrides, label kind."""
import sys

import numpy as np

from core_cy import CONSTANTS
from host_tools.cli.arguments import U16_MAX, byte_count, integer
from host_tools.errors import UserError
from host_tools.planning.techniques import apply_techniques
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.model_settings import PRECISIONS
from host_tools.model.load import load_model
from host_tools.planning import PLANNERS
from host_tools.program import build_program
from host_tools.swap import SwapInfeasible


def add_model_arguments(parser):
    parser.add_argument("model", help="model file (NNTrainer-style .ini)")
    parser.add_argument("--batch", type=integer(1, U16_MAX), metavar="N",
                        help="override the model's batch_size (1..65535)")
    parser.add_argument("--micro-batch", type=integer(1, U16_MAX), metavar="M",
                        help="samples per forward/backward pass, gradients accumulated over "
                             "the batch (override the model's micro_batch; divides the batch)")
    parser.add_argument("--planner", default="best", choices=["best", *PLANNERS],
                        help="memory planner: best (default: the smallest valid plan), "
                             + ", ".join(PLANNERS))


def add_precision_arguments(parser):
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="number format of the training step (override the model's "
                             "precision): float32, int8 (quantized from float weights) or fixed "
                             "(no float operation at all)")
    parser.add_argument("--no-qas", action="store_true",
                        help="int8 without quantization-aware scaling of the weight gradients "
                             "(the ablation)")


def add_budget_arguments(parser):
    parser.add_argument("--ram-budget", type=byte_count, metavar="BYTES",
                        help="RAM for the arena (e.g. 262144 or 256K); below the planned arena, "
                             "tensors are swapped to flash with prefetch")
    parser.add_argument("--lookahead", type=integer(0, U16_MAX), default=4, metavar="K",
                        help="ops ahead of use a swapped tensor's read starts (default 4)")
    parser.add_argument("--no-recompute", action="store_true",
                        help="under a RAM budget, never recompute activations in backward "
                             "(by default the planner weighs recomputing against swapping)")
    parser.add_argument("--no-fused-update", action="store_true",
                        help="keep whole weight gradients: under a RAM budget (float32) and "
                             "always for int8 / fixed, the fused row-by-row update is on by "
                             "default")
    parser.add_argument("--no-tiling", action="store_true",
                        help="under a RAM budget, never split FC weights into row chunks (by "
                             "default large ones are tiled when that lowers the RAM needed)")


def plan_program(args, graph):
    """build_program with the planner / budget options; infeasible budgets are user errors."""
    try:
        return build_program(graph, args.planner, ram_budget=getattr(args, "ram_budget", None),
                             lookahead=getattr(args, "lookahead", 4))
    except SwapInfeasible as error:
        raise UserError(str(error)) from None


def load_spec(args, quiet=False):
    """quiet: the caller reports spec.warnings (keys accepted but ignored) itself."""
    spec = load_model(args.model)
    for warning in [] if quiet else spec.warnings:
        print(f"microtrain: warning: {warning}", file=sys.stderr)
    if getattr(args, "batch", None) is not None:
        spec.batch_size = args.batch
    if getattr(args, "micro_batch", None) is not None:
        if args.micro_batch < 1:
            raise UserError(f"--micro-batch {args.micro_batch} must be >= 1")
        spec.micro_batch = args.micro_batch
    if getattr(args, "precision", None) is not None:
        spec.precision = args.precision
    if getattr(args, "no_qas", False):
        if spec.precision != "int8":
            raise UserError(f"--no-qas applies to int8 only (precision is {spec.precision})")
        spec.qas = False
    return spec


def label_kind_for(spec, y=None):
    """Float targets need dense labels; int labels with cross-entropy are indices."""
    dense = CONSTANTS["LABEL_DENSE"]
    if y is not None and np.issubdtype(y.dtype, np.floating):
        return dense
    return dense if spec.loss == "mse" else CONSTANTS["LABEL_INDEX"]


def build_graph(spec, y=None):
    return build_training_graph(spec, label_kind_for(spec, y))


def build_model_graph(spec, data=None, init_weights=None, seed=0, fused=True):
    """float32: the training graph; int8 / fixed: the float model quantized
    (init_weights or the seeded init, calibrated on data) into an integer graph,
    whose initial values already hold the quantized weights, its FC weight
    updates fused unless fused is False."""
    y = data.y if data is not None else None
    if spec.precision == "float32":
        return build_graph(spec, y)
    from host_tools.quantize.prepare import quantized_graph
    return quantized_graph(spec, label_kind_for(spec, y), data, init_weights, seed, fused)[0]


def budget_graph(args, spec, data=None):
    """build_model_graph, then the memory techniques a RAM budget (--ram-budget,
    --min-ram, --target) turns on unless switched off (float32 graphs; integer
    graphs fuse their FC weight updates always, unless --no-fused-update); plan
    and train build the same program for the same options."""
    graph = build_model_graph(spec, data, getattr(args, "init_weights", None),
                              getattr(args, "seed", 0),
                              not getattr(args, "no_fused_update", False))
    min_ram = getattr(args, "min_ram", False)
    if graph.quant is not None:
        graph.recomputed, graph.recompute_ops = [], 0
        return graph
    if getattr(args, "ram_budget", None) is None and not min_ram:
        graph.fused_layers, graph.recomputed, graph.recompute_ops = [], [], 0
        return graph
    return apply_techniques(graph, None if min_ram else args.ram_budget,
                            fused=not args.no_fused_update, recompute=not args.no_recompute,
                            tiling=not args.no_tiling,
                            planner=args.planner, lookahead=args.lookahead,
                            target=cost_target(getattr(args, "target", None)))


def cost_target(board_target):
    """The cost table for a --target (host_tools/planning/targets/): the host's by default."""
    if board_target and board_target.startswith("baremetal"):
        return "baremetal-m4f"
    if board_target and board_target.startswith("micropython"):
        return "micropython"
    return "host"
