"""Arena scratch for the FC forward's packed operands, on the host.

FC_FWD reads x and w where they lie; on AVX-512 every vector of its dot
products is then built with a shuffle (two samples' 8 lanes side by side).
FC_FWD_PACKED (same params plus p[3], the scratch bytes; same bits) first
copies x's sample pairs, and lets each thread task keep its weight rows
twice, into an arena scratch tensor, so the inner loop reads plain loads.
widen_fc_scratch() substitutes it for FC_FWD where training runs on the host
(as widen_conv_scratch does for the conv scratch) and the scratch fits the
cap: with every region of kept weights, else with as many as fit.
Microcontroller bundles never get it. The scratch is live during its op
only, so the arena grows by the largest one.
"""
from core_cy import CONSTANTS
from core_cy._core import fc_packed_scratch_bytes
from host_tools.graph.conv_scratch import LINUX_CAP_BYTES
from host_tools.graph.tensors import Tensor

MIN_OUTPUTS = 32   # fewer outputs: packing x costs more than it saves


def packed_bytes(n, inputs, outputs, cap_bytes=LINUX_CAP_BYTES):
    """Scratch bytes for an FC forward of n samples, inputs -> outputs (the
    most kept regions under the cap), or 0 where packing does not fit or
    pays nothing."""
    if n < 2 or inputs < 8 or outputs < MIN_OUTPUTS:
        return 0
    for regions in range(CONSTANTS["FC_PACKED_REGIONS"], -1, -1):
        size = fc_packed_scratch_bytes(n, inputs, regions)
        if size <= cap_bytes:
            return size
    return 0


def widen_fc_scratch(graph, cap_bytes=LINUX_CAP_BYTES):
    """Turns each worthwhile FC_FWD into FC_FWD_PACKED with its own scratch
    tensor, in place (see the module doc)."""
    for op in graph.ops:
        size = packed_bytes(*op.params[:3], cap_bytes) if op.kind == "FC_FWD" else 0
        if not size:
            continue
        scratch = Tensor(len(graph.tensors), f"{op.layer}:scratch_fwd", (size // 4,), "scratch")
        graph.tensors.append(scratch)
        op.kind, op.tensors, op.params = "FC_FWD_PACKED", [*op.tensors, scratch.id], [*op.params[:3], size]
    return graph
