"""Apply-gradient ops, one per weight, right after its gradient (PyTorch SGD / Adam)."""
from host_tools.graph.builder import APPLY


def emit_apply(b, node_name, key, weight, grad):
    opt = b.optimizer
    numel = b.tensors[weight].numel
    shape = b.tensors[weight].shape
    if opt.type == "sgd":
        tensors = [weight, grad]
        if opt.momentum != 0.0:
            tensors.append(b.tensor(f"{node_name}:{key}/momentum", shape, "optimizer",
                                    persistent=True))
        b.op("SGD_APPLY", APPLY, tensors, [numel], [opt.learning_rate, opt.momentum],
             layer=node_name)
        return
    m = b.tensor(f"{node_name}:{key}/adam_m", shape, "optimizer", persistent=True)
    v = b.tensor(f"{node_name}:{key}/adam_v", shape, "optimizer", persistent=True)
    step = b.tensor(f"{node_name}:{key}/adam_step", (1,), "optimizer", dtype="u32",
                    persistent=True)
    b.op("ADAM_APPLY", APPLY, [weight, grad, m, v, step], [numel],
         [opt.learning_rate, opt.beta1, opt.beta2, opt.epsilon], layer=node_name)
