"""One C check (mt_swap_check) decides which swap schedules are valid, for the
bundle reader and the runtime alike."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from core_cy import BundleError, FileStorage, RamStorage, SwapRuntime, read_bundle
from host_tools.bundle.layout import SWAP_EVENT_DTYPE
from host_tools.bundle.writer import encode_bundle

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import bundle_samples as samples  # noqa: E402

START, WAIT, WRITE = 0, 1, 2


def _events(rows):
    """rows of (op, action, tag); every event moves 4 bytes at offset 0."""
    return np.array([(op, 0, action, tag, 0, 0, 4) for op, action, tag in rows], SWAP_EVENT_DTYPE)


CASES = {
    "tag reused": ([(0, START, 1), (0, START, 1), (1, WAIT, 1), (1, WAIT, 1)],
                   "read tag reused before its wait"),
    "never waited": ([(0, START, 1), (1, START, 2), (1, WAIT, 2)], "read never waited for"),
    "wait alone": ([(0, WAIT, 3), (0, WRITE, 0)], "wait without a pending read"),
    "unsorted": ([(1, WRITE, 0), (0, WRITE, 0)], "not sorted by (op, when)"),
}


def _bundle_with(events):
    content = samples.tiny_content()
    content.swap_events = events
    return encode_bundle(content)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reader_and_runtime_refuse_the_same_schedules(case):
    rows, text = CASES[case]
    events = _events(rows)
    with pytest.raises(BundleError, match=re.escape(text)):
        read_bundle(_bundle_with(events))
    with pytest.raises(ValueError, match=re.escape(text)):
        SwapRuntime(events, np.zeros(64, np.uint8), RamStorage(64))


def test_fifo_need_counts_reads_held_behind_an_unwaited_one(tmp_path):
    """Read 0 is waited for last: the 256 reads started and waited for after it
    still hold their ring slots, so the schedule needs 257 (devices hold 256)."""
    rows = [(0, START, 0)]
    for tag in range(1, 257):
        rows += [(1, START, tag), (1, WAIT, tag)]
    rows.append((2, WAIT, 0))
    events = _events(rows)
    with pytest.raises(BundleError, match="keeps 257 reads queued, devices hold 256"):
        read_bundle(_bundle_with(events))
    with pytest.raises(ValueError, match="keeps 257 reads queued, the storage allows 256"):
        SwapRuntime(events, np.zeros(64, np.uint8), FileStorage(str(tmp_path / "f.bin"), 64))
    SwapRuntime(events, np.zeros(64, np.uint8), RamStorage(64))  # synchronous: no ring
    del rows[-3:-1]  # one read fewer: 256 fit
    read_bundle(_bundle_with(_events(rows)))
