"""A tqdm byte bar around an upload or download, and a bytes/s figure.

The protocol reports absolute offsets (a resumed upload starts part-way), so
the bar is moved to the offset rather than advanced by deltas."""
import sys
import time

from tqdm import tqdm


def with_bar(transfer, label, total, quiet=False):
    """Runs transfer(on_progress) under a bar -> (its result, seconds)."""
    bar = tqdm(total=total / 1024, desc=label, unit="KiB", leave=False,
               bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} KiB [{elapsed}<{remaining}, "
                          "{rate_fmt}]",
               disable=quiet or not sys.stderr.isatty())

    def on_progress(done, size):   # KiB everywhere, as in the summary lines
        bar.total = size / 1024
        bar.update(done / 1024 - bar.n)

    started = time.monotonic()
    try:
        result = transfer(on_progress)
    finally:
        bar.close()
    return result, max(time.monotonic() - started, 1e-6)


def rate_text(nbytes, seconds):
    return f"{nbytes / seconds / 1024:,.1f} KiB/s"
