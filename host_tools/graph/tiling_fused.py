"""Fused update per chunk (issue 11): in a tiled FC layer
(host_tools/graph/tiling.py) each weight-gradient tile whose only consumer is
its chunk's optimizer step (SGD_APPLY, ADAM_APPLY_TILE) or the micro-batch
accumulator's ADD becomes one fused tile op (kinds 230-232,
core_cy/src/mt_kernels_fused.c on the tile's row range): the gradient rows
update the weight chunk (or the accumulator chunk) as each is complete, so no
dW chunk is ever stored. An SGD step also absorbs up to two DECAY_GRAD terms
(weight decay, the l2norm gradient) on its chunk, added to each row before
the step as DECAY_GRAD adds them; Adam's four floats leave no room for them.
The rules are fused_update.py's, per chunk: the step runs where the chunk's
step ran (after the derivative tile read the old rows), the accumulation where
the gradient tile ran. Bit-identical to the unfused tiles
(tests/test_tiling_fused.py)."""
from host_tools.graph.fused_update import _only_consumer, _scratch, _written
from host_tools.graph.tensors import Op

FUSED_TILE = {"SGD_APPLY": "FC_GRAD_SGD_TILE", "ADAM_APPLY_TILE": "FC_GRAD_ADAM_TILE",
              "ADD": "FC_GRAD_ACC_TILE"}
FUSED_TILE_KINDS = tuple(FUSED_TILE.values())


def fuse_tiled_updates(graph):
    """Rewrites graph.ops in place; returns the tiled layers whose update was fused."""
    ops = list(graph.ops)
    fused = []
    for index, op in enumerate(ops):
        if op is None or op.kind != "FC_GRAD_TILE":
            continue
        decays = _decay_terms(ops, index)
        consumer = _only_consumer([None if j in decays else o for j, o in enumerate(ops)],
                                  index, op.tensors[2])
        replacement = None if consumer is None else \
            _fused_tile(graph, ops, index, consumer, decays)
        if replacement is not None:
            at, new = replacement
            for j in [index, consumer, *decays]:
                ops[j] = None
            ops[at] = new
            if op.layer not in fused:
                fused.append(op.layer)
    graph.ops = [op for op in ops if op is not None]
    _forget_unused_chunks(graph)
    return fused


def _forget_unused_chunks(graph):
    """The fused dW chunks are no op's operands now: they leave graph.chunks
    (a new dict: copies share the old one), or a session would write their
    starting zeros into bytes the planner gave to others."""
    used = {t for op in graph.ops for t in op.tensors}
    graph.chunks = {tid: ids for tid, ids in graph.chunks.items() if set(ids) <= used}


def _decay_terms(ops, index):
    """Indices of the DECAY_GRAD ops on the gradient tile's chunk (weight decay,
    the l2norm gradient): an SGD step can absorb up to two (FC_GRAD_SGD_TILE's f[2:4])."""
    dw = ops[index].tensors[2]
    return [j for j, op in enumerate(ops) if op is not None and j > index
            and op.kind == "DECAY_GRAD" and op.tensors[1] == dw]


def _fused_tile(graph, ops, index, consumer, decays=()):
    """(op index to hold the fused tile, the op), or None when it cannot be fused;
    decays: indices of the DECAY_GRAD ops on the gradient chunk."""
    grad, user = ops[index], ops[consumer]
    x, dy, dw = grad.tensors[:3]
    db = grad.tensors[3] if len(grad.tensors) > 3 else -1
    if graph.tensors[dw].persistent or user.kind not in FUSED_TILE:
        return None
    if decays and not _absorbs(user, decays, consumer, ops):
        return None
    params, kind = list(grad.params[:5]), FUSED_TILE[user.kind]
    if user.kind == "ADD":
        if user.tensors[1:] != [user.tensors[0], dw]:
            return None
        return index, Op(kind, grad.phase, [x, dy, user.tensors[0], db, _scratch(graph, grad)],
                         params, [], grad.layer)
    if user.tensors[1] != dw or user.params[1:2] not in ([], [0]) or \
            not _nothing_between(ops, index, consumer, x, dy, db):
        return None
    state = user.tensors[2:]
    if user.kind == "SGD_APPLY":
        state = [state[0] if state and state[0] >= 0 else -1]
    else:   # ADAM_APPLY_TILE: [M, V, STEP], p = [NUMEL, CLEAR, LAST]
        params.append(user.params[2])
    tensors = [x, dy, user.tensors[0], *state, db, _scratch(graph, grad)]
    floats = list(user.floats)
    if decays:   # [lr, momentum, d1, d2]
        floats = [*floats, 0.0][:2] + [ops[j].floats[0] for j in decays] + \
            [0.0] * (2 - len(decays))
    return consumer, Op(kind, user.phase, tensors, params, floats, grad.layer)


def _absorbs(step, decays, consumer, ops):
    """An SGD step takes at most two decay terms, on its own weight chunk, all
    before it with nothing between writing that chunk (they read it there)."""
    weight = step.tensors[0]
    if step.kind != "SGD_APPLY" or len(decays) > 2 or \
            any(ops[j].tensors[0] != weight for j in decays):
        return False
    first = min(decays)
    return max(decays) < consumer and not any(
        op is not None and weight in _written(op) for op in ops[first:consumer])


def _nothing_between(ops, index, consumer, x, dy, db):
    """X, dY are read at the step's place now and dB is written there: no op
    between may write the first two or touch dB."""
    between = [op for op in ops[index + 1:consumer] if op is not None]
    if any(({x, dy, db} - {-1}) & _written(op) for op in between):
        return False
    return db < 0 or not any(db in op.tensors for op in between)
