"""`microtrain` command line: one module per subcommand."""
import argparse
import sys

from host_tools.errors import UserError


def _parser():
    from host_tools.cli import board_sim, convert, demo, flash, monitor, plan, ports, pull, train
    parser = argparse.ArgumentParser(
        prog="microtrain",
        description="Memory-efficient neural-network training for tiny devices.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train, plan, convert, flash, monitor, pull, ports, demo, board_sim):
        module.register(commands)
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except UserError as error:
        print(f"microtrain: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("microtrain: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
