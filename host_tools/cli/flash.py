"""microtrain flash: upload a bundle to a board (checked on the host first,
resumable, with a progress bar) and report the board's verdict."""
from host_tools.device.bundle_file import load_bundle
from host_tools.device.client import BoardClient
from host_tools.device.last_bundle import remember
from host_tools.device.transfer_bar import rate_text, with_bar

PORT_HELP = "serial port or pyserial URL (/dev/ttyACM0, /dev/pts/N, socket://HOST:PORT)"


def register(commands):
    parser = commands.add_parser("flash", help="upload a bundle to a board",
                                 description="Check MODEL.mtb with the device's bundle reader, "
                                             "then upload it to the board on PORT.")
    parser.add_argument("--port", required=True, help=PORT_HELP)
    parser.add_argument("bundle", metavar="MODEL.mtb", help="bundle from `microtrain plan -o`")
    parser.set_defaults(run=run)


def describe(info, port):
    return (f"board {info['device_name']} on {port}: {info['ram_bytes']:,} bytes RAM, "
            f"{info['flash_bytes']:,} bytes flash, kernel {info['kernel_version']}")


def parked_line(client, port):
    """One line for a board whose last run is parked (issue 8, no boot loop), or None."""
    parked = client.parked
    return f"board {client.name} on {port}: {parked}" if parked else None


def flash_bundle(client, bundle, quiet=False):
    """Upload with a bar; prints the verdict line. Returns the UPLOAD_RESULT."""
    result, seconds = with_bar(lambda bar: client.flash(bundle, bar), "flash",
                               len(bundle.data), quiet)
    sent = len(bundle.data) - result["resumed_from"]
    resumed = f", resumed at byte {result['resumed_from']:,}" if result["resumed_from"] else ""
    print(f"board {client.name} accepted {bundle.path}: {len(bundle.data):,} bytes "
          f"(crc 0x{result['crc32']:08x}) in {seconds:.2f} s, {rate_text(sent, seconds)}"
          f"{resumed}; arena {bundle.arena_bytes:,} of {client.info['ram_bytes']:,} bytes RAM")
    remember(bundle.path)
    return result


def run(args):
    bundle = load_bundle(args.bundle)        # a wrong file fails before the port is touched
    with BoardClient(args.port) as client:
        print(describe(client.hello(), args.port))
        parked = parked_line(client, args.port)
        if parked:
            print(parked)
        flash_bundle(client, bundle)
        if parked:
            print(f"board {client.name}: the parked run is cleared, the new bundle replaces it")
    return 0
