"""`plan --explain`: the fine-grained execution order and every tensor's lifespan."""
PHASES = {0: "forward", 1: "calc_gradient", 2: "calc_derivative", 3: "apply_gradient"}


def explain(program):
    graph = program.graph
    names = {t.id: t.name for t in graph.tensors}
    lines = ["execution order:", f"  {'#':>4}  {'phase':<16} {'layer':<24} {'op':<22} tensors"]
    for index, op in enumerate(graph.ops):
        tensors = ", ".join(names[t] for t in op.tensors if t >= 0)
        lines.append(f"  {index:>4}  {PHASES[op.phase]:<16} {op.layer:<24} "
                     f"{op.kind.lower():<22} {tensors}")
    spans = graph.lifespans()
    lines += ["", "tensors:", f"  {'id':>4}  {'name':<36} {'kind':<11} {'shape':<18} "
              f"{'bytes':>9}  {'lifespan':<11} {'offset':>9}"]
    for tensor in graph.tensors:
        first, last = spans.get(tensor.id, (None, None))
        span = "unused" if first is None else (
            "persistent" if tensor.persistent else f"{first}..{last}")
        offset = program.plan.offsets.get(tensor.id, "-")
        shape = "x".join(str(d) for d in tensor.shape)
        lines.append(f"  {tensor.id:>4}  {tensor.name:<36} {tensor.kind:<11} {shape:<18} "
                     f"{tensor.nbytes:>9}  {span:<11} {offset:>9}")
    return "\n".join(lines)
