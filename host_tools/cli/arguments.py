"""Argument types checked at the edge: argparse turns their ArgumentTypeError
into one line and exit 2, before any work starts. The ranges are the widths
of the fields the values end up in (bundle u32, TRAIN_START epochs u16)."""
import argparse
import math
from pathlib import Path

U16_MAX = 0xFFFF
U32_MAX = 0xFFFF_FFFF
MAX_DEVICE_NAME_BYTES = 64      # INFO carries it with the kernel version in one frame


def integer(low, high):
    """An int type accepting low..high (both inclusive)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range {low}..{high}")
        return value
    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def seconds(text):
    """A positive, finite number of seconds (at most a day)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise argparse.ArgumentTypeError(f"{text!r} must be in (0, 86400] seconds")
    return value


def byte_count(text):
    """'262144', '256K', '256KiB', '1.5M' -> bytes (K = 1024), 1..4 GiB-1."""
    units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024,
             "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}
    word = str(text).strip().lower()
    number = word.rstrip("kmib")
    try:
        value = float(number) * units[word[len(number):]]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte count (e.g. 262144, 256K)") \
            from None
    if not (math.isfinite(value) and 1 <= value <= U32_MAX):
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 byte .. 4 GiB")
    return int(value)


def device_name(text):
    """A name the board can report in its INFO reply."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= MAX_DEVICE_NAME_BYTES or not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"device names are 1..{MAX_DEVICE_NAME_BYTES} printable UTF-8 bytes "
            f"(got {size} bytes)")
    return text


def output_file(text):
    """A file to write: its directory must exist (checked before any long work)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: directory {str(path.parent)!r} does not "
                                         f"exist")
    return text
