"""microtrain ports: the serial ports a board may be on."""
from serial.tools import list_ports


def register(commands):
    parser = commands.add_parser("ports", help="list serial ports",
                                 description="List the serial ports of this machine.")
    parser.set_defaults(run=run)


def run(args):
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    for port in ports:
        print(f"{port.device:<20} {port.description} [{port.hwid}]")
    if not ports:
        print("no serial ports found. Plug a board in, or start a simulated one with "
              "`microtrain board-sim` and pass the pty path it prints as --port.")
    return 0
