"""microtrain monitor: watch a board train (progress bar and loss/accuracy
curves in the terminal), then write a CSV log and a PNG of the curves."""
from host_tools.cli.arguments import U16_MAX, U32_MAX, integer, output_file, seconds
from host_tools.cli.flash import PORT_HELP, parked_line
from host_tools.device.client import BoardClient
from host_tools.device.monitor import watch
from host_tools.errors import UserError


def register(commands):
    parser = commands.add_parser("monitor", help="watch a board train",
                                 description="Show a board's training live; write a CSV log "
                                             "and a PNG of the curves when it ends or on Ctrl-C.")
    parser.add_argument("--port", required=True, help=PORT_HELP)
    parser.add_argument("--csv", default="training-log.csv", type=output_file,
                        metavar="LOG.csv",
                        help="CSV log to write (default training-log.csv)")
    parser.add_argument("--png", default="training-curves.png", type=output_file,
                        metavar="CURVES.png",
                        help="curves to draw (default training-curves.png)")
    parser.add_argument("--start", action="store_true",
                        help="start training first (Ctrl-C then stops it)")
    parser.add_argument("--epochs", type=integer(0, U16_MAX), default=0, metavar="N",
                        help="with --start: epochs to train (1..65535; default: the bundle's)")
    parser.add_argument("--checkpoint-every", type=integer(0, U32_MAX), default=0, metavar="N",
                        help="with --start: iterations between checkpoints (default: the "
                             "bundle's)")
    parser.add_argument("--idle-timeout", type=seconds, default=30.0, metavar="S",
                        help="give up after S seconds without progress (default 30)")
    parser.add_argument("--no-live", action="store_true", help="plain lines, no live view")
    parser.set_defaults(run=run)


def run(args):
    for flag in ("epochs", "checkpoint_every"):
        if getattr(args, flag) and not args.start:
            raise UserError(f"--{flag.replace('_', '-')} needs --start")
    with BoardClient(args.port) as client:
        client.hello()
        since = len(client.events)
        parked = parked_line(client, args.port)
        if parked and not args.start:   # it will not train: say so now, not after --idle-timeout
            raise UserError(f"{parked} (nothing is training; --start trains again)")
        if parked:
            print(parked + "; starting a new run")
        if args.start:
            client.start(epochs=args.epochs, checkpoint_every=args.checkpoint_every)
        log, interrupted = watch(client, since, args.csv, args.png, live=not args.no_live,
                                 stop_on_interrupt=args.start, idle_timeout=args.idle_timeout,
                                 title=f"{client.name} on {args.port}")
    if interrupted:
        print("interrupted" + ("; training stopped" if args.start else ""))
        return 130
    return report_end(log, client.name)


def report_end(log, name):
    last = log.last
    print(f"training {last.state.lower()} on board {name} after {last.iteration} of "
          f"{last.total_iterations} iterations: loss {last.loss:.4f}, "
          f"accuracy {100 * last.accuracy:.1f}%")
    if last.state == "FAILED":
        raise UserError(f"training failed on board {name} (see its log above)")
    return 0
