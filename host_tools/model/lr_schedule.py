"""[LearningRateScheduler] with NNTrainer's keys and formulas:
constant (learning_rate), exponential (learning_rate * decay_rate ^
(iteration / decay_steps)), step (learning_rate list, a rate per interval
of the `iteration` list), cosine (min + (max - min) * (1 + cos(pi * (i mod
decay_steps) / decay_steps)) / 2). Iterations count from 0."""
import bisect
import math
from dataclasses import dataclass, field

from host_tools.errors import UserError
from host_tools.model.properties import _float, _int

KEYS = {"constant": {"learning_rate"},
        "exponential": {"learning_rate", "decay_rate", "decay_steps"},
        "step": {"learning_rate", "iteration"},
        "cosine": {"max_learning_rate", "min_learning_rate", "decay_steps"}}


@dataclass
class LRSchedule:
    type: str = "constant"
    learning_rates: list = field(default_factory=list)
    iterations: list = field(default_factory=list)
    decay_rate: float = 1.0
    decay_steps: int = 1
    max_learning_rate: float = 0.0
    min_learning_rate: float = 0.0

    def rate(self, iteration):
        if self.type == "constant":
            return self.learning_rates[0]
        if self.type == "exponential":
            return self.learning_rates[0] * self.decay_rate ** (iteration / self.decay_steps)
        if self.type == "step":
            index = bisect.bisect_left(self.iterations, iteration)
            return self.learning_rates[min(index, len(self.learning_rates) - 1)]
        cosine = 0.5 * (1 + math.cos(math.pi * (iteration % self.decay_steps) / self.decay_steps))
        return self.min_learning_rate + (self.max_learning_rate - self.min_learning_rate) * cosine


def _floats(text, key, where):
    return [_float(part, key, where) for part in str(text).split(",") if part.strip()]


def parse_lr_schedule(values, where, default_rate):
    kind = str(values.get("type", "constant")).strip().lower()
    if kind not in KEYS:
        raise UserError(f"type={kind!r} must be one of {', '.join(KEYS)}", f"{where} type")
    for key in values:
        if key != "type" and key not in KEYS[kind]:
            raise UserError(f"unknown key '{key}' for a {kind} scheduler "
                            f"(known: {', '.join(sorted(KEYS[kind]))})", where)
    schedule = LRSchedule(kind, _floats(values.get("learning_rate", default_rate),
                                        "learning_rate", f"{where} learning_rate"))
    if kind == "step":
        schedule.iterations = [_int(part, "iteration", f"{where} iteration", 0)
                               for part in str(values.get("iteration", "")).split(",")
                               if part.strip()]
        if len(schedule.learning_rates) != len(schedule.iterations) + 1:
            raise UserError("a step scheduler needs one more learning_rate than iteration "
                            "values", where)
        if schedule.iterations != sorted(set(schedule.iterations)):
            raise UserError("iteration values must be unique and increasing", where)
    elif len(schedule.learning_rates) != 1 and kind != "cosine":
        raise UserError("learning_rate takes one value", f"{where} learning_rate")
    if kind in ("exponential", "cosine"):
        for key in ("decay_steps",) + (("decay_rate",) if kind == "exponential" else
                                        ("max_learning_rate", "min_learning_rate")):
            if key not in values:
                raise UserError(f"missing key '{key}'", where)
        schedule.decay_steps = _int(values["decay_steps"], "decay_steps", f"{where} decay_steps")
    if kind == "exponential":
        schedule.decay_rate = _float(values["decay_rate"], "decay_rate", f"{where} decay_rate")
    if kind == "cosine":
        schedule.max_learning_rate = _float(values["max_learning_rate"], "max_learning_rate",
                                            where)
        schedule.min_learning_rate = _float(values["min_learning_rate"], "min_learning_rate",
                                            where)
    return schedule
