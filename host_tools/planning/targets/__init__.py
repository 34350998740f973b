"""Per-target cost tables for the memory planner's time estimates (one JSON
file per target, next to this module): flash read/write bandwidth and
latency, multiply-accumulates and elementwise operations per second."""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
COST_TARGETS = tuple(sorted(p.stem for p in HERE.glob("*.json")))


def target_costs(name):
    """The cost table of `name` (a COST_TARGETS entry) as a dict."""
    return json.loads((HERE / f"{name}.json").read_text())
