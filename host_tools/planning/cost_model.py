"""Estimated step time of a planned program on a target (issue 11): compute
per op (multiply-accumulates for FC and conv, elements otherwise) plus the
swap schedule's flash traffic (bandwidth and one latency per transfer), from
the target's cost table (host_tools/planning/targets/*.json). Used to choose
between keeping, swapping and recomputing, and reported as a factor against
the same graph unswapped and unrecomputed."""
import numpy as np

from host_tools.planning.targets import target_costs
from host_tools.swap.events import Action

def op_work(graph, op):
    """(multiply-accumulates, elements) one run of `op` costs."""
    p = op.params
    if op.kind.startswith("FC_"):   # a tile (FC_*_TILE*) covers p[4] of the p[2] outputs
        return p[0] * p[1] * (p[4] if "_TILE" in op.kind else p[2]), 0
    if op.kind.startswith("CONV_"):
        n, c, oc, kh, kw, oh, ow, groups = p[0], p[1], p[4], p[5], p[6], p[11], p[12], p[13]
        if "_TILE" in op.kind:   # a tile (CONV_*_TILE*): p[15] of the filters, groups 1
            oc, groups = p[15], 1
        return n * oc * oh * ow * (c // max(groups, 1)) * kh * kw, 0
    largest = max((graph.tensors[t].numel for t in op.tensors if t >= 0), default=0)
    return 0, largest


def compute_seconds(graph, costs):
    per_pass = 0.0
    for op in graph.ops:
        macs, elements = op_work(graph, op)
        per_pass += macs / costs["macs_per_s"] + elements / costs["elements_per_s"]
    return per_pass * graph.micro_batches


def swap_seconds(swap, costs, passes):
    if swap is None:
        return 0.0
    transfers = sum(1 for e in swap.events if e.action != Action.READ_WAIT)
    per_pass = (swap.read_bytes_per_iteration / costs["flash_read_bytes_per_s"]
                + swap.write_bytes_per_iteration / costs["flash_write_bytes_per_s"]
                + transfers * costs["flash_latency_s"])
    return per_pass * passes


def step_seconds(program, target="host"):
    """Estimated seconds per iteration of `program` on `target`."""
    costs = target_costs(target)
    graph = program.graph
    return compute_seconds(graph, costs) + swap_seconds(program.swap, costs, graph.micro_batches)


def time_factor(program, baseline_graph, target="host"):
    """step_seconds(program) / the baseline graph's compute alone (no swap)."""
    base = compute_seconds(baseline_graph, target_costs(target))
    return float(np.float64(step_seconds(program, target)) / base) if base else 1.0
