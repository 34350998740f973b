"""`microtrain` command line: one module per subcommand."""
import argparse
import sys

from host_tools.cli.failure import one_line

SUBCOMMANDS = ("train", "plan", "convert", "flash", "samples", "monitor", "pull", "ports", "demo",
               "board_sim")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line (the standard for every bad input), exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def version():
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed
    try:
        return installed("microtrain")
    except PackageNotFoundError:    # a source tree on PYTHONPATH, not installed
        return "unknown (not installed)"


def _parser():
    from importlib import import_module
    parser = OneLineParser(prog="microtrain",
                           description="Memory-efficient neural-network training for tiny "
                                       "devices.")
    parser.add_argument("--version", action="version", version=f"microtrain {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        import_module(f"host_tools.cli.{name}").register(commands)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("microtrain: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 -- one_line decides; bugs re-raise
        message = one_line(error)
        if message is None:
            raise
        print(f"microtrain: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
