"""Activation ranges from data: the float model runs forward (eval mode, the
same C executor) over the calibration samples and every layer output's
min / max is recorded. Every tensor keeps its own bytes (no in-place, the
no-reuse planner), so each output can be read after the pass."""
from dataclasses import dataclass

import numpy as np

from host_tools.data import encode
from host_tools.program import build_program
from host_tools.session import Session

CALIBRATION_SAMPLES = 512   # enough for stable ranges on the zoo's tasks, bounded time


@dataclass
class Ranges:
    """node name -> (low, high) of its output over the calibration data."""
    low: dict
    high: dict

    def of(self, name):
        return self.low[name], self.high[name]


def calibrate(float_graph, float_weights, x, y, samples=CALIBRATION_SAMPLES):
    """float_weights: {tensor id: array} of float_graph (None: its seeded init)."""
    program = build_program(float_graph, "no-reuse", in_place=False)
    session = Session(program, seed=0)
    if float_weights:
        session.set_values(float_weights)
    x, y = encode(x[:samples], y[:samples], float_graph, "calibration data")
    outputs = {node.name: float_graph.input if node.type == "input" else _output_id(float_graph, node)
               for node in float_graph.nodes}
    low = {name: np.inf for name in outputs}
    high = {name: -np.inf for name in outputs}
    batch = float_graph.batch
    order = np.arange(len(x), dtype=np.int32)
    for index in range(len(x) // batch or 1):
        session.runtime.forward(x, y, order, index)
        for name, tid in outputs.items():
            values = session.view(tid)
            low[name] = min(low[name], float(values.min()))
            high[name] = max(high[name], float(values.max()))
    return Ranges(low, high)


def _output_id(graph, node):
    """The tensor a node's forward writes ('<name>:output')."""
    for tensor in graph.tensors:
        if tensor.name == f"{node.name}:output":
            return tensor.id
    raise KeyError(node.name)
