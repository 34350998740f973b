"""Swap events, in the order the C runtime replays them (core_cy/src/mt_swap.h)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from core_cy._core import swap_reads_queued
from host_tools.bundle.layout import BUNDLE_CONSTANTS, SWAP_EVENT_DTYPE

# Reads a schedule may keep queued: the bundle reader refuses more (mt_swap.h).
MAX_READS_QUEUED = BUNDLE_CONSTANTS["SWAP_MAX_READS_QUEUED"]


# Values from mt_swap.h (enum mt_swap_when / mt_swap_action) through core_cy.
# Events sort by them: BEFORE < AFTER, and READ_START < READ_WAIT < WRITE.
class When(IntEnum):
    BEFORE = BUNDLE_CONSTANTS["SWAP_BEFORE_OP"]
    AFTER = BUNDLE_CONSTANTS["SWAP_AFTER_OP"]


class Action(IntEnum):
    READ_START = BUNDLE_CONSTANTS["SWAP_READ_START"]
    READ_WAIT = BUNDLE_CONSTANTS["SWAP_READ_WAIT"]
    WRITE = BUNDLE_CONSTANTS["SWAP_WRITE"]


# Mirrors mt_swap_event field by field (20 bytes, no padding).
EVENT_DTYPE = SWAP_EVENT_DTYPE  # the bundle layout's record: one definition of mt_swap_event


@dataclass(frozen=True)
class SwapEvent:
    op: int
    when: When
    action: Action
    tag: int
    tensor: int
    arena_offset: int
    flash_offset: int
    nbytes: int


@dataclass(frozen=True)
class Transfer:
    """One planned copy: a read (start op, wait op) or a write-back (after op)."""
    tensor: int
    action: Action
    start_op: int
    wait_op: int
    nbytes: int


def _order_key(event: SwapEvent) -> tuple:
    # Before an op: start every read first so they overlap, then wait for the ones due now.
    return (event.op, event.when, event.action, event.tensor)


def build_events(transfers: list[Transfer], arena_offsets: dict[int, int],
                 flash_offsets: dict[int, int]) -> list[SwapEvent]:
    untagged = []
    for transfer in transfers:
        place = (transfer.tensor, arena_offsets[transfer.tensor], flash_offsets[transfer.tensor], transfer.nbytes)
        if transfer.action == Action.WRITE:
            untagged.append(SwapEvent(transfer.start_op, When.AFTER, Action.WRITE, 0, *place))
        else:
            untagged.append(SwapEvent(transfer.start_op, When.BEFORE, Action.READ_START, 0, *place))
            untagged.append(SwapEvent(transfer.wait_op, When.BEFORE, Action.READ_WAIT, 0, *place))
    return _assign_tags(sorted(untagged, key=_order_key))


def _assign_tags(events: list[SwapEvent]) -> list[SwapEvent]:
    """Smallest free tag per read in flight, so tags also count the reads in flight."""
    in_flight: dict[int, int] = {}   # tensor -> tag
    tagged = []
    for event in events:
        tag = 0
        if event.action == Action.READ_START:
            tag = min(set(range(len(in_flight) + 1)) - set(in_flight.values()))
            in_flight[event.tensor] = tag
        elif event.action == Action.READ_WAIT:
            tag = in_flight.pop(event.tensor)
        tagged.append(SwapEvent(event.op, event.when, event.action, tag, event.tensor,
                                event.arena_offset, event.flash_offset, event.nbytes))
    return tagged


def max_reads_in_flight(events: list[SwapEvent]) -> int:
    return max((event.tag + 1 for event in events if event.action == Action.READ_START), default=0)


def events_array(events: list[SwapEvent]) -> np.ndarray:
    array = np.zeros(len(events), dtype=EVENT_DTYPE)
    for index, event in enumerate(events):
        array[index] = (event.op, event.when, event.action, event.tag,
                        event.arena_offset, event.flash_offset, event.nbytes)
    return array


def reads_queued(events: list[SwapEvent]) -> int:
    """Reads queued at worst, counted by the C check the bundle reader runs."""
    return swap_reads_queued(events_array(events))
