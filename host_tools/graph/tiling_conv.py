"""Conv layers tiled by output channels (issue 11), the conv half of
host_tools/graph/tiling.py: a dense conv's weight (OC, C, KH, KW) and its
family are split into chunks of consecutive filters; X, Y, dY, dX, the bias
and the scratch stay whole. The tile kernels (core_cy/src/mt_kernels_tile_conv.c)
resume the input derivative's sums from tile to tile, which is exact only on
the untiled kernel's blocks of 4 output channels: every chunk starts at a
multiple of 4 and holds at least 4 channels, a multiple of 4 but for the last."""

from dataclasses import replace

# Untiled op -> its tile op (the first tile, then the later ones).
TILE_OF = {"CONV_FWD": ("CONV_FWD_TILE", "CONV_FWD_TILE_NEXT"),
           "CONV_GRAD": ("CONV_GRAD_TILE", "CONV_GRAD_TILE"),
           "CONV_DERIV": ("CONV_DERIV_TILE", "CONV_DERIV_TILE_NEXT")}
TILE_KINDS = {kind for pair in TILE_OF.values() for kind in pair}
BLOCK = 4   # the untiled derivative's block of output channels


def tileable(graph, op):
    """Whether a CONV_FWD op's layer can be tiled: float, dense (groups 1), and
    at least two chunks of 4 channels."""
    return op.kind == "CONV_FWD" and op.params[13] == 1 and op.params[4] >= 2 * BLOCK


def channel_bounds(channels, chunks):
    """Output channels [o0, o1) of at most `chunks` near-equal tiles on the
    4-channel grid (the last one takes a tail of fewer than 4)."""
    per = -(-channels // max(chunks, 1))
    steps = {max(BLOCK, -(-per // BLOCK) * BLOCK), max(BLOCK, per // BLOCK * BLOCK)}
    fitting = [cuts for cuts in map(lambda step: _cuts(channels, step), sorted(steps))
               if len(cuts) - 1 <= chunks]
    cuts = max(fitting, key=len)
    return list(zip(cuts[:-1], cuts[1:]))


def _cuts(channels, step):
    cuts = list(range(0, channels, step))
    if len(cuts) > 1 and channels - cuts[-1] < BLOCK:
        cuts.pop()
    return cuts + [channels]


def max_chunks(channels):
    return len(channel_bounds(channels, channels))


def tile_params(op, o0, o1):
    """CONV params with groups (always 1) replaced by O0, the scratch size kept,
    then ROWS: p = [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, OH, OW, O0, SB, ROWS]."""
    scratch = op.params[14] if len(op.params) > 14 else 0
    return [*op.params[:13], o0, scratch, o1 - o0]


def own_scratch(graph, groups):
    """Gives every conv tile but a group's first its own copy of the scratch
    tensor, so the planner can free it between tiles (the backward tiles of
    several ops interleave chunk by chunk). groups: tile-op lists or ops."""
    for group in groups:
        if not isinstance(group, list) or group[0].kind not in TILE_KINDS:
            continue
        for index, op in enumerate(group[1:], 1):
            source = graph.tensors[op.tensors[-1]]
            own = replace(source, id=len(graph.tensors), name=f"{source.name}[{index}]")
            graph.tensors.append(own)
            op.tensors = [*op.tensors[:-1], own.id]
    return groups
