"""python -m board --port PORT --storage DIR [--ram-limit BYTES] [--name NAME]

Runs the device agent (board/agent.py) on a serial port: a device path or
pyserial URL, or fd:N for a descriptor inherited from the simulator."""
import argparse
import os
import signal
import sys

from board.agent import DEFAULT_NAME, DEFAULT_RAM, Agent
from protocol import Link


def _parser():
    parser = argparse.ArgumentParser(prog="python -m board", description="microtrain device agent")
    parser.add_argument("--port", required=True, help="serial device, pyserial URL or fd:N")
    parser.add_argument("--storage", required=True, help="directory standing in for the board's flash")
    parser.add_argument("--ram-limit", type=int, default=DEFAULT_RAM, metavar="BYTES",
                        help="RAM the board reports and bundles must fit (default 64 MiB)")
    parser.add_argument("--name", default=DEFAULT_NAME, help="device name reported by INFO")
    return parser


def open_port(port):
    if port.startswith("fd:"):
        from board.fd_transport import FdTransport
        return FdTransport(int(port[3:]))
    from protocol.serial_port import open_serial
    return open_serial(port)


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.ram_limit <= 0:
        sys.exit("python -m board: --ram-limit must be positive")
    os.makedirs(args.storage, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from board import trainer
    try:
        transport = open_port(args.port)
    except (OSError, ValueError) as error:
        sys.exit("python -m board: cannot open port %s: %s" % (args.port, error))
    link = Link(transport, peer_name="host")
    agent = Agent(link, args.storage, trainer, ram_limit=args.ram_limit, name=args.name)
    print("board: %s serving %s, storage %s" % (args.name, args.port, args.storage),
          file=sys.stderr, flush=True)
    try:
        agent.serve_forever()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
