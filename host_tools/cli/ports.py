"""microtrain ports: the serial ports a board may be on, simulated boards too."""
from serial.tools import list_ports

from host_tools.device.sim_registry import running_sims


def register(commands):
    parser = commands.add_parser("ports", help="list serial ports",
                                 description="List the serial ports of this machine and the "
                                             "ptys of running `microtrain board-sim`s.")
    parser.set_defaults(run=run)


def run(args):
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    for port in ports:
        print(f"{port.device:<20} {port.description} [{port.hwid}]")
    sims = running_sims()
    for sim in sims:
        print(f"{sim['port']:<20} microtrain board-sim '{sim['name']}' (pid {sim['pid']}, "
              f"storage {sim['storage']})")
    if not ports and not sims:
        print("no serial ports found. Plug a board in, or start a simulated one with "
              "`microtrain board-sim` and pass the pty path it prints as --port.")
    return 0
