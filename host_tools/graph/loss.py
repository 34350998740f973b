"""Loss ops: forward adds loss and correct count to METRICS; the derivative
seeds backward. Cross-entropy computes its own softmax / sigmoid (fused)."""
from core_cy import CONSTANTS
from host_tools.graph.builder import CALC_DERIV, FORWARD
from host_tools.graph.nodes import numel

LABEL_INDEX = CONSTANTS["LABEL_INDEX"]
LABEL_DENSE = CONSTANTS["LABEL_DENSE"]
KINDS = {"mse": "LOSS_MSE", "cross_softmax": "LOSS_CE_SOFTMAX", "cross_sigmoid": "LOSS_CE_SIGMOID"}


def emit_loss(b, loss, loss_input_node, label_kind):
    """Returns (labels, metrics, output, params); the derivative op is
    emitted by emit_loss_derivative once backward starts."""
    features = numel(loss_input_node.shape)
    if label_kind == LABEL_INDEX:
        labels = b.tensor("labels", (b.batch,), "label", dtype="i32", loaded=True)
    else:
        labels = b.tensor("labels", (b.batch, features), "label", loaded=True)
    metrics = b.tensor("metrics", (2,), "metrics", persistent=True)
    z = b.outputs[loss_input_node.name]
    params = [b.batch, features, label_kind]
    if loss == "mse":
        output = z
        b.op("LOSS_MSE_FWD", FORWARD, [z, labels, metrics], params, layer="loss")
    else:
        output = b.activation("loss:probabilities", loss_input_node.shape)
        b.op(f"{KINDS[loss]}_FWD", FORWARD, [z, labels, output, metrics], params, layer="loss")
    return labels, metrics, output, params


def emit_loss_derivative(b, loss, labels, output, params, dz):
    b.op(f"{KINDS[loss]}_DERIV", CALC_DERIV, [output, labels, dz], params, layer="loss")
