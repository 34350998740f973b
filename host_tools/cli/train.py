"""microtrain train: train a model on the host with the same C executor a board runs."""
from host_tools.cli.common import (add_budget_arguments, add_model_arguments, build_graph,
                                   load_spec, plan_program)
from host_tools.data import load_data
from host_tools.errors import UserError
from host_tools.session import Session
from host_tools.training import train
from host_tools.weights import load_weights_npz, save_weights_npz


def register(commands):
    parser = commands.add_parser("train", help="train a model on the host",
                                 description="Train MODEL on the host and report loss/accuracy "
                                             "per epoch.")
    add_model_arguments(parser)
    parser.add_argument("--data", default="digits",
                        help="'digits' (scikit-learn, held-out split) or an npz with x, y "
                             "[, x_test, y_test] (default: digits)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, metavar="N", help="override the model's epochs")
    length.add_argument("--iterations", type=int, metavar="N",
                        help="train exactly N iterations (batches) instead of whole epochs")
    parser.add_argument("--init-weights", metavar="W.npz", help="initial weights (npz)")
    parser.add_argument("--dump-weights", metavar="OUT.npz", help="write trained weights here")
    parser.add_argument("--seed", type=int, default=0, help="weight init and shuffle seed")
    parser.add_argument("--no-shuffle", action="store_true",
                        help="consecutive batches in file order (reproducible comparisons)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_budget_arguments(parser)
    parser.add_argument("--swap-file", metavar="PATH",
                        help="file standing in for flash when swapping (default: a temporary "
                             "file); 'ram' keeps it in memory")
    parser.set_defaults(run=run)


def run(args):
    for flag in ("epochs", "iterations"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f"--{flag} {value} must be >= 1")
    spec = load_spec(args)
    data = load_data(args.data)
    graph = build_graph(spec, data.y)
    program = plan_program(args, graph)
    session = Session(program, seed=args.seed, swap_file=args.swap_file)
    if args.init_weights:
        session.set_values(load_weights_npz(args.init_weights, graph))
    print(f"model {spec.source}: {len(graph.ops)} ops, arena {program.arena_bytes} bytes "
          f"({program.plan.planner} planner), batch {graph.samples_per_iteration}"
          f"{f' (micro-batch {graph.batch})' if graph.micro_batches > 1 else ''}, data {data.name} "
          f"({len(data.x)} samples)")
    result = train(session, data, epochs=args.epochs or spec.epochs, iterations=args.iterations,
                   shuffle=not args.no_shuffle, seed=args.seed, progress=not args.quiet)
    if program.swap is not None:
        read, written = session.swap_bytes
        print(f"swap: {read} bytes read, {written} bytes written to flash "
              f"(arena {program.arena_bytes} of {program.unswapped_arena_bytes} bytes)")
    if args.dump_weights:
        save_weights_npz(args.dump_weights, session.weights())
        print(f"weights written to {args.dump_weights}")
    final = result.epochs[-1]
    if final.test_accuracy is not None:
        print(f"final test accuracy {100 * final.test_accuracy:.2f}%")
    return 0
