"""microtrain pull: download the trained weights from a board into an npz
keyed like `microtrain train --dump-weights` ('<layer>:weight', ...)."""
import numpy as np

from protocol import messages as m
from host_tools.cli.arguments import output_file
from host_tools.cli.flash import PORT_HELP
from host_tools.device.bundle_file import load_bundle
from host_tools.device.client import BoardClient
from host_tools.device.last_bundle import recall
from host_tools.device.transfer_bar import rate_text, with_bar
from host_tools.device.weights import decode_weights, weight_entries
from host_tools.errors import UserError


def register(commands):
    parser = commands.add_parser("pull", help="download trained weights from a board",
                                 description="Download the board's current weights and save "
                                             "them as an npz, named and shaped by the bundle.")
    parser.add_argument("--port", required=True, help=PORT_HELP)
    parser.add_argument("--bundle", metavar="B.mtb",
                        help="the bundle the board runs (default: the last one flashed from "
                             "this machine)")
    parser.add_argument("-o", "--output", default="weights.npz", type=output_file,
                        metavar="OUT.npz",
                        help="where to write the weights (default weights.npz)")
    parser.set_defaults(run=run)


def bundle_path(args):
    path = args.bundle or recall()
    if path is None:
        raise UserError("no --bundle given and no bundle was flashed from this machine yet; "
                        "pass the bundle the board runs with --bundle B.mtb")
    return path


def pull_weights(client, bundle, output, quiet=False):
    blob, seconds = with_bar(lambda bar: client.download(m.WHAT_WEIGHTS, bar), "pull", 0, quiet)
    weights = decode_weights(blob, bundle.model, bundle.path)
    np.savez(output, **weights)
    print(f"{len(weights)} arrays ({len(blob):,} bytes, {rate_text(len(blob), seconds)}) "
          f"from board {client.name} written to {output}")
    return weights


def run(args):
    bundle = load_bundle(bundle_path(args))
    weight_entries(bundle.model, bundle.path)   # names and shapes, before the port is touched
    with BoardClient(args.port) as client:
        client.hello()
        pull_weights(client, bundle, args.output)
    return 0
