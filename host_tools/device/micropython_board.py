"""The board agent on MicroPython, started on a pty like the other simulated boards.

    port, board = start_micropython_board("micropython-m4f", storage_dir)
    ... microtrain flash/monitor/pull against `port` ...
    board.power_cut(); port = board.start()   # reboot: the flash persists

micropython-unix: MicroPython's unix port (micropython_unix.py builds it with _microtrain)
runs board/mp_main.py from this repo on a pty it inherits, storage a host directory; the
same pty stays across reboots, as board/sim.py. micropython-m4f / -m3: the firmware of
micropython_firmware.py under QEMU, as qemu_board.py runs the bare-metal one; its flash is
the littlefs image flash.img in the storage directory; each boot gets a new pty.
"""

import os

from board.sim import BoardSim
from host_tools.device import micropython_firmware
from host_tools.device.micropython_source import REPO_DIR
from host_tools.device.qemu_board import QemuBoard, check_tools
from host_tools.device.targets import MICROPYTHON_ARENA_BYTES, MICROPYTHON_UNIX_HEAP

UNIX_NAME = "microtrain-micropython-unix"


class MicroPythonUnixBoard(BoardSim):
    """MicroPython's unix port running the agent; Popen-like, power_cut()/start() as BoardSim."""

    def __init__(self, storage_dir, binary, ram_limit=None, name=None, stderr=None, agent_options=()):
        self.binary = str(binary)
        self.env = dict(os.environ, MICROPYPATH=str(REPO_DIR))  # the agent as it is in this repo
        os.makedirs(str(storage_dir), exist_ok=True)             # MicroPython has no makedirs
        BoardSim.__init__(self, storage_dir, ram_limit=MICROPYTHON_ARENA_BYTES if ram_limit is None
                          else ram_limit, name=name or UNIX_NAME, stderr=stderr,
                          agent_options=agent_options)

    def agent_command(self):
        return [self.binary, "-X", "heapsize=%d" % MICROPYTHON_UNIX_HEAP, "-m", "board.mp_main"]

    def start(self):
        # The unix port cannot make a descriptor non-blocking itself; the flag lives on the
        # pty's open file, so setting it here is what the agent's reads see.
        os.set_blocking(self.master, False)
        return BoardSim.start(self)


class MicroPythonQemuBoard(QemuBoard):
    """QEMU running the MicroPython firmware; the same surface as QemuBoard."""

    targets = micropython_firmware.TARGETS

    @staticmethod
    def build(target):
        check_tools()   # QEMU as well as the cross compiler
        return micropython_firmware.build(target)


def start_micropython_board(target, storage_dir, stderr=None, elf=None, binary=None,
                            agent_options=()):
    """-> (port path, Popen-like board); builds what is missing first."""
    if target == "micropython-unix":
        if binary is None:
            from host_tools.device.micropython_unix import build_unix_port
            binary = build_unix_port()
        board = MicroPythonUnixBoard(storage_dir, binary, stderr=stderr, agent_options=agent_options)
        return board.port_path, board
    board = MicroPythonQemuBoard(target, storage_dir, elf=elf, stderr=stderr)
    return board.port, board
