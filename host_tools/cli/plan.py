"""microtrain plan: the execution order, tensor lifespans and the arena plan."""
import json

from host_tools.cli.common import add_model_arguments, build_graph, load_spec
from host_tools.program import build_program
from host_tools.report.explain import explain
from host_tools.report.memory import format_figures, memory_figures


def register(commands):
    parser = commands.add_parser("plan", help="plan the training memory of a model",
                                 description="Build the training graph of MODEL, plan its "
                                             "tensors into one static arena and report the "
                                             "lower bound and every planner's arena.")
    add_model_arguments(parser)
    parser.add_argument("--explain", action="store_true",
                        help="print the execution order and every tensor's size and lifespan")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args):
    spec = load_spec(args)
    graph = build_graph(spec)
    program = build_program(graph, args.planner)
    figures = memory_figures(program, graph)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    if args.explain:
        print(explain(program))
        print()
    print(format_figures(figures))
    return 0
