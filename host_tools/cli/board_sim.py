"""microtrain board-sim: a simulated board on a pseudo-terminal (board/sim.py)."""
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.cli.arguments import byte_count, device_name
from host_tools.device import sim_registry
from host_tools.device.targets import TARGET_NAMES
from host_tools.errors import UserError


def register(commands):
    parser = commands.add_parser("board-sim", help="run a simulated board on a pty",
                                 description="Start the device agent behind a pseudo-terminal, "
                                             "print the port path for the host tools and the "
                                             "agent's log; Ctrl-C stops it.")
    parser.add_argument("--storage", metavar="DIR",
                        help="directory standing in for the board's flash, created if missing "
                             "(default: a new temporary directory, printed, gone at exit)")
    parser.add_argument("--ram-limit", type=byte_count, metavar="BYTES",
                        help="RAM the board reports (e.g. 256K; default 64 MiB)")
    parser.add_argument("--name", type=device_name,
                        help="device name, 1..64 bytes (default microtrain-sim)")
    parser.add_argument("--target", choices=TARGET_NAMES, default="linux",
                        help="linux (default: the CPython agent), a bare-metal firmware "
                             "under QEMU (built offline with PlatformIO if needed) or the agent "
                             "on MicroPython (unix port, or firmware under QEMU; built from "
                             "MICROPY_DIR if needed)")
    parser.set_defaults(run=run)


def run(args):
    from board.sim import start_board_sim
    from host_tools.device.targets import start_board
    with tempfile.TemporaryDirectory(prefix="microtrain-board-") as scratch:
        storage = Path(args.storage or scratch)
        storage.mkdir(parents=True, exist_ok=True)  # a bad path fails here, in one line
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below
        if args.target == "linux":
            port, sim = start_board_sim(storage, ram_limit=args.ram_limit, name=args.name,
                                        stderr=subprocess.PIPE)
        else:  # the firmware has its RAM from its linker script and its name built in
            if args.ram_limit or args.name:
                raise UserError("--ram-limit and --name apply to --target linux only")
            port, sim = start_board(args.target, storage, stderr=subprocess.PIPE)
        record = sim_registry.register(port, storage, args.name or ("microtrain-sim" if args.target == "linux" else args.target))
        print(f"board-sim: port {port}  storage {storage}", flush=True)
        try:
            log = sim.process.stderr or sim.process.stdout  # QEMU: the console on its stdout
            for line in log:  # until the agent exits or Ctrl-C
                print(line.decode("utf-8", "replace").rstrip(), file=sys.stderr, flush=True)
            print(f"board-sim: agent exited with status {sim.wait()}", file=sys.stderr)
            return 1
        finally:
            sim_registry.unregister(record)
            sim.stop()
