"""Pieces several subcommands share: model loading with overrides, label kind."""
import argparse

import numpy as np

from core_cy import CONSTANTS
from host_tools.errors import UserError
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.load import load_model
from host_tools.program import build_program
from host_tools.swap import SwapInfeasible


def add_model_arguments(parser):
    parser.add_argument("model", help="model file (NNTrainer-style .ini)")
    parser.add_argument("--batch", type=int, metavar="N", help="override the model's batch_size")
    parser.add_argument("--micro-batch", type=int, metavar="M",
                        help="samples per forward/backward pass, gradients accumulated over "
                             "the batch (override the model's micro_batch; divides the batch)")
    parser.add_argument("--planner", default="best",
                        help="memory planner: best (default: smallest valid plan), optimal, "
                             "greedy, nntrainer, no-reuse")


def byte_count(text):
    """'262144', '256K', '256KiB', '1.5M' -> bytes (K = 1024)."""
    units = {"": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20,
             "mib": 1 << 20, "b": 1}
    word = str(text).strip().lower()
    number = word.rstrip("kmibB")
    try:
        value = int(float(number) * units[word[len(number):]])
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte count (e.g. 262144, 256K)")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def add_budget_arguments(parser):
    parser.add_argument("--ram-budget", type=byte_count, metavar="BYTES",
                        help="RAM for the arena (e.g. 262144 or 256K); below the planned arena, "
                             "tensors are swapped to flash with prefetch")
    parser.add_argument("--lookahead", type=int, default=4, metavar="K",
                        help="ops ahead of use a swapped tensor's read starts (default 4)")


def plan_program(args, graph):
    """build_program with the planner / budget options; infeasible budgets are user errors."""
    try:
        return build_program(graph, args.planner, ram_budget=getattr(args, "ram_budget", None),
                             lookahead=getattr(args, "lookahead", 4))
    except SwapInfeasible as error:
        raise UserError(str(error)) from None
    except ValueError as error:  # unknown planner name
        raise UserError(str(error)) from None


def load_spec(args):
    spec = load_model(args.model)
    if getattr(args, "batch", None) is not None:
        if args.batch < 1:
            raise UserError(f"--batch {args.batch} must be >= 1")
        spec.batch_size = args.batch
    if getattr(args, "micro_batch", None) is not None:
        if args.micro_batch < 1:
            raise UserError(f"--micro-batch {args.micro_batch} must be >= 1")
        spec.micro_batch = args.micro_batch
    return spec


def label_kind_for(spec, y=None):
    """Float targets need dense labels; int labels with cross-entropy are indices."""
    dense = CONSTANTS["LABEL_DENSE"]
    if y is not None and np.issubdtype(y.dtype, np.floating):
        return dense
    return dense if spec.loss == "mse" else CONSTANTS["LABEL_INDEX"]


def build_graph(spec, y=None):
    return build_training_graph(spec, label_kind_for(spec, y))
