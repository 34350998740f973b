"""The board agent's entry point on MicroPython.

Unix port (the host's board-sim for target micropython-unix):
    micropython -m board.mp_main --port fd:N --storage DIR [--ram-limit BYTES] [--name NAME]
                [--flash-limit BYTES] [--max-resumes N] [--engine MODULE]
QEMU firmware (firmware/micropython/qemu): main() with no arguments, run by the frozen
mt_boot.py: littlefs on the semihosted flash file mounted at /, the UART as the port, the
arena budget the firmware was built with.
A real MicroPython board: copy board/ and protocol/ with mpremote and call
main(["--port", "stdio", "--storage", "/"]) from its main.py: the protocol then runs on the
board's console (USB CDC: /dev/ttyACM0 on the host), the agent's log lines are dropped.
Bad arguments: one line on stderr, exit status 2.
"""

import sys

from board.agent import DEFAULT_MAX_RESUMES, DEFAULT_NAME, DEFAULT_RAM, Agent
from protocol import Link

OPTIONS = {"--port": str, "--storage": str, "--ram-limit": int, "--name": str,
           "--flash-limit": int, "--max-resumes": int, "--engine": str}
DEFAULT_ENGINE = "board.mp_engine"
QEMU_FLASH = ("flash.img", 4096, 2048)   # host file, block size, blocks: an 8 MiB chip
# littlefs caches of 1 KiB (4 x 256) and a lookahead bitmap covering the whole chip: far fewer
# block-device calls (each a semihosting trap) than MicroPython's 32-byte defaults.
LFS_OPTIONS = {"readsize": 256, "progsize": 256, "lookahead": 256}
QEMU_NAME = "microtrain-micropython"


class UsageError(Exception):
    pass


def parse(argv):
    """['--opt', 'value', ...] -> dict of the given options, typed."""
    given = {}
    if len(argv) % 2:
        raise UsageError("%s needs a value" % argv[-1])
    for index in range(0, len(argv), 2):
        option, value = argv[index], argv[index + 1]
        kind = OPTIONS.get(option)
        if kind is None:
            raise UsageError("unknown option %s (known: %s)" % (option, " ".join(sorted(OPTIONS))))
        try:
            given[option] = kind(value)
        except ValueError:
            raise UsageError("%s wants an integer, got %r" % (option, value))
    return given


def check(given):
    for required in ("--port", "--storage"):
        if required not in given:
            raise UsageError("%s is required" % required)
    for option, low in (("--ram-limit", 1), ("--flash-limit", 0), ("--max-resumes", 0)):
        if given.get(option, low) < low:
            raise UsageError("%s must be %d or more" % (option, low))


def open_port(port):
    if port.startswith("fd:"):
        from board.mp_fd import MpFdTransport
        return MpFdTransport(int(port[3:]))
    if port == "uart":
        from board.mp_uart import UartTransport
        return UartTransport()
    if port == "stdio":
        import board.agent
        board.agent._stderr = _dropped    # the console is the protocol's line now
        from board.mp_stdio import StdioTransport
        return StdioTransport()
    raise UsageError("port %s: use fd:N (unix port), uart (QEMU firmware) or stdio" % port)


def _dropped(text):
    pass


def qemu_defaults():
    """The QEMU firmware's board: mount its flash, take its built-in arena budget."""
    try:
        import mtboard
        import vfs
    except ImportError:     # sys.platform says qemu, but not our firmware
        raise ImportError("board.mp_main's QEMU defaults need MicroPython's vfs and the "
                          "firmware's mtboard module (firmware/micropython/qemu)")
    flash = mtboard.HostFlash(*QEMU_FLASH)
    try:
        vfs.mount(vfs.VfsLfs2(flash, **LFS_OPTIONS), "/")
    except OSError:     # a blank chip (first boot): format it
        vfs.VfsLfs2.mkfs(flash, **LFS_OPTIONS)
        vfs.mount(vfs.VfsLfs2(flash, **LFS_OPTIONS), "/")
    return {"--port": "uart", "--storage": "/", "--ram-limit": mtboard.ARENA_BYTES,
            "--name": QEMU_NAME}


def load_engine(name):
    __import__(name)
    return sys.modules[name]


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    try:
        given = qemu_defaults() if not argv and sys.platform == "qemu" else {}
        given.update(parse(argv))
        check(given)
        engine = load_engine(given.get("--engine", DEFAULT_ENGINE))
        transport = open_port(given["--port"])
    except (UsageError, ImportError, OSError, ValueError) as error:
        print("board.mp_main: %s" % error, file=sys.stderr)
        sys.exit(2)
    agent = Agent(Link(transport, peer_name="host"), given["--storage"], engine,
                  ram_limit=given.get("--ram-limit", DEFAULT_RAM),
                  name=given.get("--name", DEFAULT_NAME),
                  max_resumes=given.get("--max-resumes", DEFAULT_MAX_RESUMES),
                  flash_limit=given.get("--flash-limit"))
    if given["--port"] != "stdio":
        print("board: %s serving %s, storage %s" % (agent.name, given["--port"], given["--storage"]),
              file=sys.stderr)
        print("board: " + heap_usage(), file=sys.stderr)
    agent.serve_forever()


def heap_usage():
    """MicroPython's own heap cost once the agent is up (bench/micropython.py reads it)."""
    import gc
    gc.collect()
    return "MicroPython heap after start: %d bytes used, %d free" % (gc.mem_alloc(), gc.mem_free())


if __name__ == "__main__":
    main()
