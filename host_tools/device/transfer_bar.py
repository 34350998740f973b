"""A tqdm byte bar around an upload or download, and a bytes/s figure.

The protocol reports absolute offsets (a resumed upload starts part-way), so
the bar is moved to the offset rather than advanced by deltas."""
import sys
import time

from tqdm import tqdm


def with_bar(transfer, label, total, quiet=False):
    """Runs transfer(on_progress) under a bar -> (its result, seconds)."""
    bar = tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
               leave=False, disable=quiet or not sys.stderr.isatty())

    def on_progress(done, size):
        bar.total = size
        bar.update(done - bar.n)

    started = time.monotonic()
    try:
        result = transfer(on_progress)
    finally:
        bar.close()
    return result, max(time.monotonic() - started, 1e-6)


def rate_text(nbytes, seconds):
    rate = nbytes / seconds
    if rate >= 1 << 20:
        return f"{rate / (1 << 20):.2f} MiB/s"
    return f"{rate / 1024:.1f} KiB/s"
