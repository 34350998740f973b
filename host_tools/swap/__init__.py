"""Proactive swap: fit a training iteration into a RAM budget by moving tensors to flash and back."""
from .events import EVENT_DTYPE, Action, SwapEvent, When
from .infeasible import SwapInfeasible, operand_bound
from .schedule import SwapSchedule, schedule_swap
from .simulate import SimulationError, simulate
from .uses import TensorUse

__all__ = [
    "EVENT_DTYPE", "Action", "SimulationError", "SwapEvent", "SwapInfeasible", "SwapSchedule", "TensorUse",
    "When", "operand_bound", "schedule_swap", "simulate",
]
