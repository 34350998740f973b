"""dropout (inverted): the mask is kept for backward; the RNG state persists."""
from host_tools.graph.builder import CALC_DERIV, FORWARD
from host_tools.graph.nodes import numel


def params(b, node):
    b.parameter(node, "rng", (1,), ("seed",), False, dtype="u32")


def forward(b, node, x, y):
    mask = b.activation(f"{node.name}:mask", node.shape, kind="scratch")
    b.saved[node.name] = {"mask": mask}
    b.op("DROPOUT_FWD", FORWARD, [x, y, mask, b.params[node.name]["rng"]],
         [b.batch * numel(node.shape)], [node.props.get("dropout_rate", 0.5)], layer=node.name)


def calc_deriv(b, node, dy, dxs):
    b.op("DROPOUT_DERIV", CALC_DERIV, [dy, b.saved[node.name]["mask"], dxs[0]],
         [b.batch * numel(node.shape)], layer=node.name)
