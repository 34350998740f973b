"""microtrain train: train a model on the host with the same C executor a board runs."""
from core_cy._core import set_threads
from host_tools.cli.arguments import U16_MAX, U32_MAX, integer, output_file
from host_tools.cli.common import (add_budget_arguments, add_model_arguments,
                                   add_precision_arguments, budget_graph,
                                   load_spec, plan_program)
from host_tools.data import load_data
from host_tools.device.curves import save_png
from host_tools.device.progress import TrainingLog
from host_tools.graph.host_scratch import widen_host_scratch
from host_tools.report.memory import op_count
from host_tools.quantize.dump import dump_weights
from host_tools.session import Session
from host_tools.training import train
from host_tools.weights import load_weights_npz, save_weights_npz


def register(commands):
    parser = commands.add_parser("train", help="train a model on the host",
                                 description="Train MODEL on the host and report loss/accuracy "
                                             "per epoch.")
    add_model_arguments(parser)
    add_precision_arguments(parser)
    parser.add_argument("--data", default="digits",
                        help="'digits' (scikit-learn, held-out split) or an npz with x, y "
                             "[, x_test, y_test] (default: digits)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=integer(1, U16_MAX), metavar="N",
                        help="override the model's epochs (1..65535)")
    length.add_argument("--iterations", type=integer(1, U32_MAX), metavar="N",
                        help="train exactly N iterations (batches) instead of whole epochs")
    parser.add_argument("--init-weights", metavar="W.npz", help="initial weights (npz)")
    parser.add_argument("--dump-weights", type=output_file, metavar="OUT.npz", help="write trained weights here")
    parser.add_argument("--seed", type=integer(0, U32_MAX), default=0, metavar="S",
                        help="weight init and shuffle seed (0..4294967295, default 0)")
    parser.add_argument("--no-shuffle", action="store_true",
                        help="consecutive batches in file order (reproducible comparisons)")
    parser.add_argument("--log-csv", type=output_file, metavar="LOG.csv",
                        help="write the training log as CSV (the columns `monitor` writes)")
    parser.add_argument("--plot", type=output_file, metavar="CURVES.png",
                        help="draw the loss and accuracy curves (as `monitor` does)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--threads", type=integer(1, 64), default=1, metavar="N",
                        help="kernel threads (1..64, default 1); results are bit-identical "
                             "for every N")
    add_budget_arguments(parser)
    parser.add_argument("--swap-file", metavar="PATH",
                        help="file standing in for flash when swapping (default: a temporary "
                             "file); 'ram' keeps it in memory")
    parser.set_defaults(run=run)


def run(args):
    spec = load_spec(args)
    data = load_data(args.data)
    graph = budget_graph(args, spec, data)
    if args.ram_budget is None and not getattr(args, "min_ram", False) and graph.quant is None:
        widen_host_scratch(graph)   # training here, on the host: GEMM-sized kernel scratch
    program = plan_program(args, graph)
    set_threads(args.threads)
    session = Session(program, seed=args.seed, swap_file=args.swap_file)
    if args.init_weights and graph.quant is None:   # integer graphs start quantized from them
        session.set_values(load_weights_npz(args.init_weights, graph))
    print(f"model {spec.source}: {op_count(program)} ops, arena {program.arena_bytes:,} bytes "
          f"({program.plan.planner} planner), batch {graph.samples_per_iteration}"
          f"{f' (micro-batch {graph.batch})' if graph.micro_batches > 1 else ''}, "
          f"{spec.precision}{'' if spec.qas or graph.quant is None else ' without QAS'}, "
          f"data {data.name} "
          f"({len(data.x)} samples)")
    log = TrainingLog()
    result = train(session, data, epochs=args.epochs or spec.epochs, iterations=args.iterations,
                   shuffle=not args.no_shuffle, seed=args.seed, progress=not args.quiet,
                   on_report=log.add)
    if program.swap is not None:
        read, written = session.swap_bytes
        print(f"swap: {read:,} bytes read, {written:,} bytes written to flash "
              f"(arena {program.arena_bytes:,} of {program.unswapped_arena_bytes:,} bytes)")
    _write_outputs(args, session, log)
    final = result.epochs[-1]
    if final.test_accuracy is not None:
        print(f"final test accuracy {100 * final.test_accuracy:.2f}%")
    return 0


def _write_outputs(args, session, log):
    if args.dump_weights:
        save_weights_npz(args.dump_weights, dump_weights(session))
        print(f"weights written to {args.dump_weights}")
    if args.log_csv:
        log.write_csv(args.log_csv)
        print(f"wrote {args.log_csv}")
    if args.plot:
        save_png(log, args.plot, f"{args.model} on the host")
        print(f"wrote {args.plot}")
