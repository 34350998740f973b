"""microtrain samples: upload training samples (an npz with x, y) to a board;
its next `monitor --start` trains on them instead of the bundle's data. For a
bundle whose input is pre-quantized (precision fixed) the samples are
quantized here, as `train` and the demo do."""
import sys

from host_tools.cli.flash import PORT_HELP
from host_tools.data import load_npz
from host_tools.device.bundle_file import load_bundle
from host_tools.device.client import BoardClient
from host_tools.device.last_bundle import recall
from host_tools.device.sample_codes import board_samples
from host_tools.device.transfer_bar import rate_text, with_bar
from host_tools.errors import UserError


def register(commands):
    parser = commands.add_parser("samples", help="upload training samples to a board",
                                 description="Upload the samples of FILE.npz (x float32, y int "
                                             "labels or float targets) to the board on PORT.")
    parser.add_argument("--port", required=True, help=PORT_HELP)
    parser.add_argument("file", metavar="FILE.npz", help="npz with x and y")
    parser.add_argument("--bundle", metavar="B.mtb",
                        help="the bundle the board runs (default: the last one flashed from "
                             "this machine); a fixed bundle gets its samples quantized")
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


def samples_for_bundle(x, path):
    """x as the bundle at path (--bundle, else the last one flashed) loads it."""
    path = path or recall()
    if path is None:
        print("microtrain: warning: no --bundle and none flashed from this machine: samples "
              "sent as float32 (a fixed bundle needs them quantized: pass --bundle)",
              file=sys.stderr)
        return x
    return board_samples(x, load_bundle(path).model)


def run(args):
    data = load_npz(args.file)      # a bad file fails before the port is touched
    if len(data.x) == 0:
        raise UserError("no samples (x is empty)", args.file)
    x = samples_for_bundle(data.x, args.bundle)
    with BoardClient(args.port) as client:
        client.hello()
        upload_samples(client, x, data.y, args.quiet)
    return 0
