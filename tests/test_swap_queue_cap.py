"""The host never makes a schedule the bundle reader refuses: a long lookahead is cut
back until at most SWAP_MAX_READS_QUEUED reads are queued (first in, first out, as
mt_swap_check counts them)."""
import numpy as np

from core_cy import FileStorage, SwapRuntime
from core_cy._core import BUNDLE_CONSTANTS, swap_reads_queued
from host_tools.swap import TensorUse, schedule_swap, simulate

LIMIT = BUNDLE_CONSTANTS["SWAP_MAX_READS_QUEUED"]
N_WEIGHTS = LIMIT + 44


def _weights_prefetched_past_a_big_activation():
    """A big activation fills the arena at ops 0-1; weight i is read at op 2 + i and at
    the last op, so each is swapped out over the activation and its read can start as
    early as op 2: with a long lookahead every read is queued at once."""
    last = N_WEIGHTS + 2
    uses = [TensorUse(0, 16 * N_WEIGHTS, (1,), (0,), False, False)]
    uses += [TensorUse(1 + i, 16, (2 + i, last), (), True, False) for i in range(N_WEIGHTS)]
    return uses, last + 1, 16 * N_WEIGHTS + 64


def test_a_long_lookahead_is_cut_to_the_readers_queue(tmp_path):
    uses, n_ops, budget = _weights_prefetched_past_a_big_activation()
    schedule = schedule_swap(uses, n_ops, budget, lookahead=1000, planner="greedy")
    simulate(schedule, uses, n_ops)
    events = schedule.events_array()
    assert schedule.reads_queued == swap_reads_queued(events) == LIMIT
    # The file backend's ring is the devices' queue: its runtime runs the reader's check.
    arena = np.zeros(schedule.peak_ram_bytes, np.uint8)
    SwapRuntime(events, arena, FileStorage(str(tmp_path / "flash.bin"), schedule.flash_bytes))


def test_a_lookahead_within_the_queue_is_kept():
    uses, n_ops, budget = _weights_prefetched_past_a_big_activation()
    schedule = schedule_swap(uses, n_ops, budget, lookahead=200, planner="greedy")
    assert schedule.reads_queued == swap_reads_queued(schedule.events_array()) == 201
