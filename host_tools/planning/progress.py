"""What a long memory search is doing, on stderr (issue 11): one tqdm line per
open task (techniques, tiling trials, recompute candidates, each swap search
and its probes), nested, cleared when done. Shown when stderr is a terminal;
MICROTRAIN_PROGRESS=1 forces it on (e.g. under a pipe or a log), 0 off. Never
on stdout, so `--json` stays one parseable object."""
import os
import sys
from contextlib import contextmanager

from tqdm import tqdm

_open = []   # the bars shown now, outermost first


def shown():
    forced = os.environ.get("MICROTRAIN_PROGRESS", "")
    return forced == "1" if forced in ("0", "1") else sys.stderr.isatty()


@contextmanager
def task(label, total=None, unit="step"):
    """A bar for one search; the caller advances it (bar.update(1)) per step done."""
    bar = tqdm(total=total, desc=label, unit=unit, file=sys.stderr, leave=False,
               position=len(_open), disable=not shown(), dynamic_ncols=True)
    _open.append(bar)
    try:
        yield bar
    finally:
        _open.pop()
        bar.close()


def steps(label, items, unit="step"):
    """`items`, one bar step each."""
    items = list(items)
    with task(label, len(items), unit) as bar:
        for item in items:
            yield item
            bar.update(1)
