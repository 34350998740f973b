"""Proactive swap: fit a training iteration into a RAM budget by moving tensors to flash and back.

uses.py       the input (TensorUse) and each tensor's per-op timeline
gaps.py       stretches between uses where a tensor may leave RAM; live or dead
residency.py  for a set of swapped gaps: resident intervals, reads and write-backs
choice.py     the greedy state: swapped gaps, RAM profile, best next gap
prefetch.py   start reads early where the fixed plan leaves the bytes free
flash.py      flash homes, shared between copies never needed together
events.py     events in C order (mt_swap_event), tags for reads in flight
infeasible.py SwapInfeasible and the operand bound
schedule.py   schedule_swap and SwapSchedule (iteration-boundary convention there)
simulate.py   independent symbolic replay that checks a schedule
"""
from .events import EVENT_DTYPE, Action, SwapEvent, When
from .infeasible import SwapInfeasible, operand_bound
from .schedule import SwapSchedule, schedule_swap
from .simulate import SimulationError, simulate
from .uses import TensorUse

__all__ = [
    "EVENT_DTYPE", "Action", "SimulationError", "SwapEvent", "SwapInfeasible", "SwapSchedule", "TensorUse",
    "When", "operand_bound", "schedule_swap", "simulate",
]
