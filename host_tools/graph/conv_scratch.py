"""The conv kernels' arena scratch, sized per target.

The graph builder gives every conv op the minimum scratch
(MT_CONV_SCRATCH_BYTES, 1344 bytes: the Cortex-M default, where RAM is the
product). On a Linux board or the host, widen_conv_scratch() grows each conv
op's scratch to what lets its kernel run whole-K, whole-plane GEMMs (forward
and input derivative at stride 1: an implicit GEMM over one sample's
zero-padded planes, else one sample's im2col; weight gradient: the same
implicit GEMM at stride 1, else up to GRAD_POSITIONS (sample, pixel) rows of
the transposed im2col plus dy), capped
at cap_bytes, and records the size in the op's p[14]. The scratch tensors are
live during their op only, so the planner overlaps them: the arena grows by
the largest one, not their sum. The size never changes a result bit.
"""
from core_cy import CONSTANTS

MIN_BYTES = CONSTANTS["CONV_SCRATCH_BYTES"]
LINUX_CAP_BYTES = 256 * 1024
GRAD_POSITIONS = 1024   # longer GEMM K gains nothing measurable
CONV_KINDS = ("CONV_FWD", "CONV_GRAD", "CONV_DERIV")


def _implicit_floats(pairs, src_channels, dst_channels, out_h, out_w, kh, kw):
    """A stride-1 correlation as an implicit GEMM (mt_kernels_conv.c:
    plan_implicit): B row pointers, packed weights, zero-padded source planes
    and the output grid (rows rounded up to whole 8-float vectors)."""
    wp = out_w + kw - 1
    grid = -(-out_h * wp // 8) * 8
    pointers = pairs * 2 + 1
    return (pointers + pairs * dst_channels + src_channels * (out_h + kh - 1) * wp
            + kw - 1 + (grid - out_h * wp) + dst_channels * grid)


def useful_bytes(kind, params):
    """Scratch bytes beyond which this conv op's kernel runs no faster
    (0: the kernel takes a path that uses only the minimum)."""
    n, c, h, w, oc, kh, kw, sh, sw, ph, pw, oh, ow, groups = params[:14]
    per_group_in, per_group_out, taps = c // groups, oc // groups, kh * kw
    depthwise = per_group_in == 1 and per_group_out < 4   # row-wise kernels but stride-1 fwd
    direct = taps == 1 and sh == sw == 1 and ph == pw == 0 and (oh, ow) == (h, w)
    if kind == "CONV_GRAD":
        if depthwise:
            return 0
        if sh == sw == 1:   # implicit GEMM (plan_grad_implicit): A rows point into padded planes
            wp, pairs, filters = ow + kw - 1, per_group_in * taps, -(-per_group_out // 8) * 8
            return 4 * (pairs * 2 + 1 + pairs * filters + per_group_in * (oh + kh - 1) * wp
                        + kw - 1 + oh * wp * filters)
        positions = min(n * oh * ow, GRAD_POSITIONS)
        padded = per_group_in * ((oh - 1) * sh + kh) * ((ow - 1) * sw + kw) + kw - 1
        pairs = per_group_in * taps
        return 4 * (positions * (pairs + per_group_out) + padded + pairs)
    if kind == "CONV_FWD":
        pairs = per_group_in * taps
        if sh == sw == 1 and not direct:
            return 4 * _implicit_floats(pairs, per_group_in, per_group_out, oh, ow, kh, kw)
        return 0 if depthwise else 4 * pairs * (oh * ow + 1)
    if sh != 1 or sw != 1:   # the scatter derivative
        return 0
    pairs = per_group_out * taps
    if direct:
        return 4 * pairs * (h * w + 1 + per_group_in)
    return 4 * _implicit_floats(pairs, per_group_out, per_group_in, h, w, kh, kw)


def widen_conv_scratch(graph, cap_bytes=LINUX_CAP_BYTES):
    """Grows every conv op's scratch tensor in place (see the module doc)."""
    for op in graph.ops:
        if op.kind not in CONV_KINDS:
            continue
        size = min(cap_bytes, useful_bytes(op.kind, op.params)) // 4 * 4
        if size <= MIN_BYTES:
            continue
        graph.tensors[op.tensors[-1]].shape = (size // 4,)
        op.params = list(op.params[:14]) + [size]
    return graph
