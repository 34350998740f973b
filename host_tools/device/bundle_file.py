"""A bundle file checked on the host before it goes to a board: the board
would refuse a bad one anyway, but only after a whole upload and with a
reason the user has to fish out of its log."""
from dataclasses import dataclass
from pathlib import Path

from core_cy import BundleError, read_bundle
from host_tools.errors import UserError


@dataclass
class BundleFile:
    path: str
    data: bytes
    view: object            # core_cy BundleView (C reader's result)

    @property
    def model(self):
        return self.view.model

    @property
    def arena_bytes(self):
        return self.view.arena_bytes


def load_bundle(path):
    """Reads and validates PATH with the device's own C reader."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        view = read_bundle(data)
    except BundleError as error:
        raise UserError(f"{path} is not a microtrain bundle: {error}") from None
    return BundleFile(str(path), data, view)


def check_fits(bundle, info, port):
    """The board's RAM (INFO.ram_bytes) must hold the bundle's arena."""
    if bundle.arena_bytes > info["ram_bytes"]:
        raise UserError(f"bundle {bundle.path} needs {bundle.arena_bytes} bytes of RAM, "
                        f"board {info['device_name']} on {port} has {info['ram_bytes']}")
