"""Recomputation (issue 11, POET's idea): a forward output that backward reads
may be dropped after its last forward use and made again, just before its
first backward reader, by re-inserting its producer into the op list (a
backward-phase copy writing fresh tensors; backward readers are redirected to
them). The executor needs nothing new, and the recomputed bytes equal the
originals because the producer reads the same unchanged inputs with the same
kernel. Which producers to recompute is the planner's choice
(host_tools/planning/recompute_plan.py)."""
from dataclasses import dataclass, replace

from core_cy import CONSTANTS
from host_tools.graph.tensors import Op
from host_tools.graph.uses import UPDATES, WRITES

FORWARD = CONSTANTS["PHASE_FORWARD"]
CALC_DERIV = CONSTANTS["PHASE_CALC_DERIV"]
# Deterministic forward kernels with no state of their own (no RW slot): run
# twice on the same inputs they give the same bits.
RECOMPUTABLE = {"ACT_FWD", "ACTX_FWD", "MAXPOOL_FWD", "AVGPOOL_FWD", "COPY", "ADD", "SUB",
                "MUL", "NEG", "CONCAT", "PERMUTE", "UPSAMPLE_FWD", "SLICE", "FC_FWD",
                "CONV_FWD"}


@dataclass(frozen=True)
class Candidate:
    producer: int        # op index of the forward op
    first_use: int       # index of the first backward op reading one of its outputs
    outputs: tuple       # its output tensor ids read in backward


def _reads(op):
    return {tid for slot, tid in enumerate(op.tensors) if tid >= 0 and slot not in WRITES[op.kind]}


def _writes(op):
    return {op.tensors[s] for s in WRITES[op.kind] | UPDATES.get(op.kind, set())
            if s < len(op.tensors) and op.tensors[s] >= 0}


def candidates(graph):
    """Producers whose backward-read outputs can be made again at their first backward use."""
    ops, found = graph.ops, []
    writers = {}
    for index, op in enumerate(ops):
        for tid in _writes(op):
            writers.setdefault(tid, []).append(index)
    for index, op in enumerate(ops):
        if op.phase != FORWARD or op.kind not in RECOMPUTABLE or UPDATES.get(op.kind):
            continue
        outputs = [t for t in _writes(op) if graph.tensors[t].kind != "scratch"]
        backward = [j for j in range(index + 1, len(ops)) if ops[j].phase != FORWARD
                    and set(outputs) & _reads(ops[j])]
        if not backward or any(writers[t] != [index] for t in outputs):
            continue
        first = backward[0]
        inputs = _reads(op)
        if any(set(writers.get(t, [])) & set(range(index + 1, first)) for t in inputs):
            continue   # an input changes before the recompute would read it
        if any(graph.tensors[t].loaded for t in outputs):
            continue
        read_later = tuple(sorted(t for t in outputs if any(t in _reads(ops[j]) for j in backward)))
        found.append(Candidate(index, first, read_later))
    return found


def recompute(graph, chosen):
    """A copy of graph with each chosen Candidate's producer re-run before its
    first backward use; returns (graph, recomputed original tensor ids)."""
    tensors = list(graph.tensors)
    inserts, fresh = {}, {}
    for cand in sorted(chosen, key=lambda c: c.producer):
        op = graph.ops[cand.producer]
        mapping = {}
        for tid in _writes(op):
            source = tensors[tid]
            copy = replace(source, id=len(tensors), name=f"{source.name}/recomputed",
                           persistent=False, loaded=False)
            tensors.append(copy)
            mapping[tid] = copy.id
        new = Op(op.kind, CALC_DERIV, [mapping.get(t, t) for t in op.tensors], list(op.params),
                 list(op.floats), f"{op.layer}/recompute")
        inserts.setdefault(cand.first_use, []).append((new, {t: mapping[t] for t in cand.outputs}))
    ops, redirect = [], {}
    for index, op in enumerate(graph.ops):
        for new, mapping in inserts.get(index, []):
            ops.append(_redirected(new, redirect))
            redirect.update(mapping)
        ops.append(_redirected(op, redirect) if op.phase != FORWARD else op)
    out = replace(graph, tensors=tensors, ops=ops)
    for key, value in vars(graph).items():   # attributes set after construction
        if not hasattr(out, key):
            setattr(out, key, value)
    return out, sorted(t for c in chosen for t in c.outputs)


def _redirected(op, redirect):
    """Reads of a recomputed tensor go to its copy (writes stay: they are the op's own)."""
    written = WRITES[op.kind]
    tensors = [redirect.get(t, t) if slot not in written else t for slot, t in enumerate(op.tensors)]
    return replace(op, tensors=tensors)
