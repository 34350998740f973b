"""Pieces several subcommands share: model loading with overrides, label kind."""
import numpy as np

from core_cy import CONSTANTS
from host_tools.errors import UserError
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.load import load_model


def add_model_arguments(parser):
    parser.add_argument("model", help="model file (NNTrainer-style .ini)")
    parser.add_argument("--batch", type=int, metavar="N", help="override the model's batch_size")
    parser.add_argument("--planner", default="best",
                        help="memory planner: best (default: smallest valid plan), optimal, "
                             "greedy, nntrainer, no-reuse")


def load_spec(args):
    spec = load_model(args.model)
    if getattr(args, "batch", None) is not None:
        if args.batch < 1:
            raise UserError(f"--batch {args.batch} must be >= 1")
        spec.batch_size = args.batch
    return spec


def label_kind_for(spec, y=None):
    """Float targets need dense labels; int labels with cross-entropy are indices."""
    dense = CONSTANTS["LABEL_DENSE"]
    if y is not None and np.issubdtype(y.dtype, np.floating):
        return dense
    return dense if spec.loss == "mse" else CONSTANTS["LABEL_INDEX"]


def build_graph(spec, y=None):
    return build_training_graph(spec, label_kind_for(spec, y))
