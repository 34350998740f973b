"""pooling2d: max (argmax indices kept for backward), average, global average."""
from host_tools.graph.builder import CALC_DERIV, FORWARD
from host_tools.graph.shapes import pool_geometry


def _params_list(b, node):
    g = pool_geometry(node, node.in_shapes[0])
    return [b.batch, g["c"], g["h"], g["w"], g["kh"], g["kw"], g["sh"], g["sw"],
            g["ph"], g["pw"], g["oh"], g["ow"]]


def _is_max(node):
    return node.props.get("pooling", "max") == "max"


def params(b, node):
    pass  # no weights


def forward(b, node, x, y):
    if _is_max(node):
        idx = b.activation(f"{node.name}:argmax", node.shape, kind="scratch", dtype="i32")
        b.saved[node.name] = {"argmax": idx}
        b.op("MAXPOOL_FWD", FORWARD, [x, y, idx], _params_list(b, node), layer=node.name)
    else:
        b.op("AVGPOOL_FWD", FORWARD, [x, y], _params_list(b, node), layer=node.name)


def calc_deriv(b, node, dy, dxs):
    if _is_max(node):
        b.op("MAXPOOL_DERIV", CALC_DERIV, [dy, b.saved[node.name]["argmax"], dxs[0]],
             _params_list(b, node), layer=node.name)
    else:
        b.op("AVGPOOL_DERIV", CALC_DERIV, [dy, dxs[0]], _params_list(b, node), layer=node.name)
