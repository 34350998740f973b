"""Static arena planning for a training step: every tensor gets one offset in one arena."""
from .buffers import Buffer, Plan, align_up, live_bytes_per_op, lower_bound, no_reuse_bytes
from .greedy import plan_greedy
from .nntrainer import plan_nntrainer
from .no_reuse import plan_no_reuse
from .optimal import plan_optimal
from .registry import PLANNERS, plan_best, plan_with
from .validate import PlanError, validate

__all__ = [
    "Buffer", "Plan", "PlanError", "PLANNERS", "align_up", "live_bytes_per_op", "lower_bound",
    "no_reuse_bytes", "plan_best", "plan_greedy", "plan_nntrainer", "plan_no_reuse", "plan_optimal",
    "plan_with", "validate",
]
