"""microtrain samples: upload training samples (an npz with x, y) to a board;
its next `monitor --start` trains on them instead of the bundle's data."""
from host_tools.cli.flash import PORT_HELP
from host_tools.data import load_npz
from host_tools.device.client import BoardClient
from host_tools.device.transfer_bar import rate_text, with_bar
from host_tools.errors import UserError


def register(commands):
    parser = commands.add_parser("samples", help="upload training samples to a board",
                                 description="Upload the samples of FILE.npz (x float32, y int "
                                             "labels or float targets) to the board on PORT.")
    parser.add_argument("--port", required=True, help=PORT_HELP)
    parser.add_argument("file", metavar="FILE.npz", help="npz with x and y")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def upload_samples(client, x, y, quiet=False):
    """Upload with a bar; prints the board's verdict. Returns the UPLOAD_RESULT."""
    try:
        result, seconds = with_bar(lambda bar: client.upload_samples(x, y, bar), "samples", 0,
                                   quiet)
    except ValueError as error:  # shapes encode_samples cannot store
        raise UserError(f"cannot send these samples: {error}") from None
    print(f"board {client.name} accepted {len(x)} samples ({result['held']:,} bytes) in "
          f"{seconds:.2f} s, {rate_text(result['held'], seconds)}")
    return result


def run(args):
    data = load_npz(args.file)      # a bad file fails before the port is touched
    if len(data.x) == 0:
        raise UserError("no samples (x is empty)", args.file)
    with BoardClient(args.port) as client:
        client.hello()
        upload_samples(client, data.x, data.y, args.quiet)
    return 0
