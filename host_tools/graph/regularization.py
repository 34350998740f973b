"""NNTrainer's weight regularizer and decay as ops:
`weight_regularizer = l2norm` adds c / 2 * ||W||_2 to the loss (forward)
and c * W to the weight gradient; `weight_decay` / `bias_decay` add d * W
to the weight's / bias's gradient before the optimizer. Trainable weights only."""
from host_tools.graph.builder import CALC_GRAD, FORWARD


def _l2_constant(node):
    if node.props.get("weight_regularizer", "none") != "l2norm":
        return 0.0
    return node.props.get("weight_regularizer_constant", 1.0)


def emit_regularization_loss(b, node, metrics):
    constant = _l2_constant(node)
    weight = b.params.get(node.name, {}).get("weight")
    if constant and weight is not None and "weight" in b.grads.get(node.name, {}):
        b.op("L2NORM_LOSS", FORWARD, [weight, metrics], [b.tensors[weight].numel], [constant],
             layer=node.name)


def emit_gradient_terms(b, node):
    """After calc_grad: dW += c * W (regularizer), then dW += d * W (decay)."""
    terms = {"weight": [_l2_constant(node), node.props.get("weight_decay", 0.0)],
             "bias": [node.props.get("bias_decay", 0.0)]}
    for key, grad in b.grads.get(node.name, {}).items():
        weight = b.params[node.name][key]
        for constant in terms.get(key, []):
            if constant:
                b.op("DECAY_GRAD", CALC_GRAD, [weight, grad], [b.tensors[weight].numel],
                     [constant], layer=node.name)
