"""Tiled ops (issue 11): an FC layer's weight is split by output rows into
chunk tensors, each its own tensor so swap moves each independently, and every
op touching the weight (or its gradient, accumulator, momentum or Adam state,
"the family") becomes one tile op per chunk (core_cy/src/mt_kernels_tile.h):
the floor of the smallest RAM becomes the largest tile, not the largest op.
Results are bit-identical (each tile is the untiled kernel's arithmetic on a
row range; the input derivative continues its sums from tile to tile).

The regularizer's ops are in the family too: the decay / l2norm gradient
term (DECAY_GRAD) runs per chunk like the optimizer step, and the l2norm loss
becomes L2NORM_LOSS_TILE(_NEXT), which carries its double sum of squares from
chunk to chunk in one 8-byte tensor (the untiled sum's order).

Backward tiles run chunk by chunk (gradient, derivative, accumulation and step
of chunk 0, then chunk 1, ...), so only one chunk of dW is ever live. The
chunks stay invisible to users: graph.chunks maps each split tensor to its
chunk ids (row order), and values are split and gathered here. Dense conv
layers are tiled the same way by output channels (tiling_conv.py)."""
import copy
from dataclasses import replace

import numpy as np

from host_tools.graph import tiling_conv
from host_tools.graph.tensors import Op, Tensor

# Untiled op -> its tile op (the first tile, then the later ones).
TILE_OF = {"FC_FWD": ("FC_FWD_TILE", "FC_FWD_TILE_NEXT"),
           "FC_GRAD": ("FC_GRAD_TILE", "FC_GRAD_TILE"),
           "FC_DERIV": ("FC_DERIV_TILE", "FC_DERIV_TILE_NEXT"),
           **tiling_conv.TILE_OF}   # conv layers by output channels (tiling_conv.py)
GRAD_KINDS = ("FC_GRAD", "CONV_GRAD")       # make the gradient chunks of the family
FORWARD_KINDS = ("FC_FWD", "CONV_FWD")      # the one op that marks a layer tileable
FIRST_GRAD_TILES = {TILE_OF[kind][0] for kind in GRAD_KINDS}   # write the whole bias gradient
# Elementwise ops over the family, run chunk by chunk (STEP, slot 4, is shared).
CHUNKED = {"SGD_APPLY", "ADAM_APPLY", "ADD", "DECAY_GRAD"}
# Ops that read a family tensor without making new ones (the l2norm loss reads W).
READERS = {"FC_FWD", "FC_DERIV", "CONV_FWD", "CONV_DERIV", "L2NORM_LOSS"}
L2NORM_TILES = ("L2NORM_LOSS_TILE", "L2NORM_LOSS_TILE_NEXT")
TILE_KINDS = {kind for pair in TILE_OF.values() for kind in pair} | {"ADAM_APPLY_TILE"} | \
    set(L2NORM_TILES)
# the forward groups run tile after tile
FORWARD_TILES = {tile for kind in FORWARD_KINDS for tile in TILE_OF[kind]} | set(L2NORM_TILES)


def _family(graph, weight):
    """Tensors shaped like the weight that move with it (gradient, accumulator,
    optimizer state), or None when an op the tiles cannot express touches them."""
    family, grown = {weight}, True
    while grown:
        grown = False
        for op in graph.ops:
            touched = {t for t in op.tensors if t in family}
            if not touched:
                continue
            if op.kind in GRAD_KINDS:
                new = {op.tensors[2]}
            elif op.kind in CHUNKED:
                new = set(op.tensors[:4] if op.kind == "ADAM_APPLY" else op.tensors) - {-1}
            elif op.kind in READERS:
                new = set()
            else:
                return None
            if new - family:
                family |= new
                grown = True
    return family


def tileable_layers(graph):
    """FC layer -> (weight id, output rows) whose weight family the tiles cover."""
    if graph.quant is not None:
        return {}
    found = {}
    for op in graph.ops:
        if op.kind != "FC_FWD" and not tiling_conv.tileable(graph, op):
            continue
        weight = op.tensors[1]
        tensor = graph.tensors[weight]
        if tensor.dtype != "f32" or weight in getattr(graph, "chunks", {}):
            continue
        if sum(weight in o.tensors for o in graph.ops if o.kind in FORWARD_KINDS) != 1:
            continue
        family = _family(graph, weight)
        if family is not None and all(graph.tensors[t].shape == tensor.shape for t in family):
            found[op.layer] = (weight, tensor.shape[0])
    return found


def row_bounds(rows, chunks):
    """Output rows [o0, o1) of each of `chunks` near-equal tiles."""
    cuts = [rows * i // chunks for i in range(chunks + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def layer_bounds(graph, weight, rows, chunks):
    """The tiles' output rows (FC) or channels (conv, on the 4-channel grid)."""
    if len(graph.tensors[weight].shape) == 4:
        return tiling_conv.channel_bounds(rows, chunks)
    return row_bounds(rows, min(chunks, rows))


def tile_graph(graph, counts):
    """A copy of graph with each {layer: chunks} FC or conv layer tiled (chunks > 1)."""
    layers = tileable_layers(graph)
    out = copy.copy(graph)
    out.tensors, out.ops = list(graph.tensors), list(graph.ops)
    out.chunks = dict(getattr(graph, "chunks", {}))
    out.tiled_layers = dict(getattr(graph, "tiled_layers", {}))
    for layer, chunks in counts.items():
        if chunks > 1 and layer in layers:
            weight, rows = layers[layer]
            bounds = layer_bounds(out, weight, rows, chunks)
            _tile_layer(out, weight, bounds)
            out.tiled_layers[layer] = len(bounds)
    return out


def _tile_layer(graph, weight, bounds):
    family = sorted(_family(graph, weight))
    pieces = {tid: _chunk_tensors(graph, tid, bounds) for tid in family}
    for tid in family:
        graph.chunks[tid] = pieces[tid]
        if graph.tensors[tid].persistent:   # its bytes now live in the chunks only
            graph.tensors[tid] = replace(graph.tensors[tid], persistent=False)
    ops = []
    for op in graph.ops:
        if op.kind == "L2NORM_LOSS" and op.tensors[0] in pieces:
            ops.append(_l2norm_tiles(graph, op, pieces[op.tensors[0]]))
        elif any(t in pieces for t in op.tensors):
            ops.append([_tile_op(op, pieces, i, bounds) for i in range(len(bounds))])
        else:
            ops.append(op)
    graph.ops = _interleave_backward(tiling_conv.own_scratch(graph, ops), family)


def _chunk_tensors(graph, tid, bounds):
    source, ids = graph.tensors[tid], []
    for o0, o1 in bounds:
        chunk = replace(source, id=len(graph.tensors), name=f"{source.name}[{o0}:{o1}]",
                        shape=(o1 - o0, *source.shape[1:]), init=("zeros",))
        graph.tensors.append(chunk)
        ids.append(chunk.id)
    return ids


def _tile_op(op, pieces, i, bounds):
    o0, o1 = bounds[i]
    swap = [pieces[t][i] if t in pieces else t for t in op.tensors]
    if op.kind in TILE_OF:
        kind = TILE_OF[op.kind][0 if i == 0 else 1]
        if op.kind in GRAD_KINDS and i > 0 and len(swap) > 3:
            swap[3] = -1   # the first tile writes the whole bias gradient
        params = tiling_conv.tile_params(op, o0, o1) if op.kind in tiling_conv.TILE_OF else \
            [*op.params[:3], o0, o1 - o0]
        return Op(kind, op.phase, swap, params, list(op.floats), op.layer)
    numel = (o1 - o0) * (op.params[0] // (bounds[-1][1]))
    if op.kind == "ADAM_APPLY":
        clear = op.params[1] if len(op.params) > 1 else 0
        return Op("ADAM_APPLY_TILE", op.phase, swap, [numel, clear, int(i == len(bounds) - 1)],
                  list(op.floats), op.layer)
    return Op(op.kind, op.phase, swap, [numel, *op.params[1:]], list(op.floats), op.layer)


def _l2norm_tiles(graph, op, chunk_ids):
    """The l2norm loss chunk by chunk, its sum of squares (a double) in one new tensor."""
    total = Tensor(len(graph.tensors), f"{op.layer}:l2norm_sum", (2,), "scratch")
    graph.tensors.append(total)
    return [Op(L2NORM_TILES[i > 0], op.phase, [cid, op.tensors[1], total.id],
               [graph.tensors[cid].numel, int(i == len(chunk_ids) - 1)], list(op.floats), op.layer)
            for i, cid in enumerate(chunk_ids)]


def _interleave_backward(groups, family):
    """Flattens the tile groups; the consecutive backward groups of one layer
    (gradient, decay, derivative, accumulation, step) run chunk by chunk, the
    other ops of that run after them, when no such op between the groups shares
    a tensor with a tile but for what the first gradient tile wrote (the bias
    gradient: its decay or step still follows that tile)."""
    del family
    ops, index = [], 0
    while index < len(groups):
        group = groups[index]
        if not isinstance(group, list) or group[0].kind in FORWARD_TILES:
            ops.extend(_flat(group))
            index += 1
            continue
        end = index + 1
        while end < len(groups) and _same_layer(groups[end], group[0].layer):
            end += 1
        block = groups[index:end]
        run = [g for g in block if isinstance(g, list)]
        others = [g for g in block if not isinstance(g, list)]
        last_run = max(i for i, g in enumerate(block) if isinstance(g, list))
        between = [g for g in block[:last_run] if not isinstance(g, list)]
        if _independent(run, between):   # the others after the run keep their place
            ops.extend(op for chunk in zip(*run) for op in chunk)
            ops.extend(others)
        else:
            ops.extend(op for g in block for op in _flat(g))
        index = end
    return ops


def _flat(group):
    return group if isinstance(group, list) else [group]


def _same_layer(group, layer):
    first = group[0] if isinstance(group, list) else group
    return first.layer == layer and first.kind not in FORWARD_TILES


def _independent(run, others):
    tiles = {t for g in run for op in g for t in op.tensors if t >= 0}
    bias_grad = {g[0].tensors[3] for g in run if g[0].kind in FIRST_GRAD_TILES
                 and len(g[0].tensors) > 3} - {-1}
    # an op on the bias gradient alone (its decay, its step) keeps its order
    # after the first gradient tile, the only tile that touches it
    return not any((set(op.tensors) & tiles) - bias_grad for op in others)


def tiled_op_labels(graph):
    """'layer.kind' of every untiled op the tiles replaced, in op order."""
    chunk_ids = {c for ids in getattr(graph, "chunks", {}).values() for c in ids}
    labels = []
    for op in graph.ops:
        if op.kind in TILE_KINDS or chunk_ids & set(op.tensors):
            base = op.kind.replace("_TILE_NEXT", "").replace("_TILE", "")
            label = f"{op.layer}.{base.lower()}"
            if label not in labels:
                labels.append(label)
    return labels


# ---- values: chunks are invisible outside the graph ---------------------------------------

def split_values(graph, values):
    """{tensor id: array} with every chunked tensor's value cut into its chunks."""
    chunks = getattr(graph, "chunks", {})
    out = {tid: value for tid, value in values.items() if tid not in chunks}
    for tid, value in values.items():   # after the rest: a whole value wins over chunk zeros
        if tid not in chunks:
            continue
        flat = np.ascontiguousarray(value).reshape(graph.tensors[tid].shape[0], -1)
        start = 0
        for cid in chunks[tid]:
            rows = graph.tensors[cid].shape[0]
            out[cid] = flat[start:start + rows].reshape(graph.tensors[cid].shape)
            start += rows
    return out


def gathered(graph, tid, read):
    """The whole value of tensor `tid` from read(chunk id) of its chunks."""
    parts = [read(cid) for cid in graph.chunks[tid]]
    return np.concatenate(parts, axis=0).reshape(graph.tensors[tid].shape)
