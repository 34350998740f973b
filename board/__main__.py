"""python -m board --port PORT --storage DIR [--ram-limit BYTES] [--name NAME]
                  [--flash-limit BYTES] [--max-resumes N] [--engine MODULE]
                  [--threads N]

Runs the device agent (board/agent.py) on a serial port: a device path or
pyserial URL, or fd:N for a descriptor inherited from the simulator."""
import argparse
import importlib
import os
import signal
import sys

from board.agent import DEFAULT_MAX_RESUMES, DEFAULT_NAME, DEFAULT_RAM, Agent
from protocol import Link


def _parser():
    parser = argparse.ArgumentParser(prog="python -m board", description="microtrain device agent")
    parser.add_argument("--port", required=True, help="serial device, pyserial URL or fd:N")
    parser.add_argument("--storage", required=True, help="directory standing in for the board's flash")
    parser.add_argument("--ram-limit", type=int, default=DEFAULT_RAM, metavar="BYTES",
                        help="RAM the board reports and bundles must fit (default 64 MiB)")
    parser.add_argument("--name", default=DEFAULT_NAME,
                        help="device name reported by INFO (cut to the protocol's limit)")
    parser.add_argument("--flash-limit", type=int, default=None, metavar="BYTES",
                        help="free flash the board reports at most (default: the storage "
                             "directory's free space)")
    parser.add_argument("--max-resumes", type=int, default=DEFAULT_MAX_RESUMES, metavar="N",
                        help="resumes of one checkpoint before a run is parked (default %d)"
                             % DEFAULT_MAX_RESUMES)
    parser.add_argument("--engine", default="board.trainer", metavar="MODULE",
                        help="training engine module (default board.trainer)")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="kernel threads (1..64, default 1); results do not depend on N")
    return parser


def _start_threads(n):
    """Kernel threads for the C core (bit-identical results for any n)."""
    if n > 1:
        from core_cy._core import set_threads
        try:
            set_threads(n)
        except ValueError as error:
            _refuse(str(error))


def open_port(port):
    if port.startswith("fd:"):
        from board.fd_transport import FdTransport
        return FdTransport(int(port[3:]))
    from protocol.serial_port import open_serial
    return open_serial(port)


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.ram_limit <= 0:
        _refuse("--ram-limit must be positive")
    if args.flash_limit is not None and args.flash_limit < 0:
        _refuse("--flash-limit must be 0 or more")
    if args.max_resumes < 0:
        _refuse("--max-resumes must be 0 or more")
    if not 1 <= args.threads <= 64:
        _refuse("--threads must be 1..64")
    try:
        os.makedirs(args.storage, exist_ok=True)
        engine = importlib.import_module(args.engine)
        _start_threads(args.threads)
    except OSError as error:
        _refuse("cannot use storage %s: %s" % (args.storage, error.strerror or error))
    except ImportError as error:
        _refuse("cannot load engine %s: %s" % (args.engine, error))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        transport = open_port(args.port)
    except (OSError, ValueError) as error:
        _refuse("cannot open port %s: %s" % (args.port, error))
    link = Link(transport, peer_name="host")
    agent = Agent(link, args.storage, engine, ram_limit=args.ram_limit, name=args.name,
                  max_resumes=args.max_resumes, flash_limit=args.flash_limit)
    print("board: %s serving %s, storage %s" % (agent.name, args.port, args.storage),
          file=sys.stderr, flush=True)
    try:
        agent.serve_forever()
    except KeyboardInterrupt:
        return 0


def _refuse(text):
    print("python -m board: " + text, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    sys.exit(main())
