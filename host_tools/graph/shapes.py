"""Per-sample output shapes and window geometry, PyTorch conventions (NCHW)."""
from host_tools.errors import UserError
from host_tools.graph.movement_shapes import SHAPES as MOVEMENT_SHAPES
from host_tools.graph.nodes import numel


def _as_chw(shape, node):
    if len(shape) != 3:
        raise UserError(f"{node.type} needs a c:h:w input, got {_fmt(shape)}", node.where)
    return shape


def _fmt(shape):
    return ":".join(str(d) for d in shape)


def window(size, kernel, stride, padding, node, axis):
    """(pad_before, out_size) for one axis. 'same' pads like TF / PyTorch:
    the odd extra pixel goes after (bottom / right)."""
    if padding == "valid":
        before, total = 0, 0
    elif padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        before = total // 2
    else:
        before = padding[axis]
        total = 2 * before
    out = (size + total - kernel) // stride + 1
    if out < 1:
        raise UserError(f"kernel {kernel} larger than the padded input {size + total}", node.where)
    return before, out


def conv_geometry(node, in_shape):
    if node.props.get("conv1d") and len(in_shape) == 1:  # 1:1:w reads as (w,)
        in_shape = (1, 1, in_shape[0])
    c, h, w = _as_chw(in_shape, node)
    if node.props.get("conv1d") and h != 1:
        raise UserError(f"conv1d needs a c:1:w input, got {_fmt(in_shape)}", node.where)
    kh, kw = node.props.get("kernel_size", (3, 3))
    sh, sw = node.props.get("stride", (1, 1))
    padding = node.props.get("padding", "valid")
    ph, oh = window(h, kh, sh, padding, node, 0)
    pw, ow = window(w, kw, sw, padding, node, 1)
    return dict(c=c, h=h, w=w, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, oh=oh, ow=ow)


def pool_geometry(node, in_shape):
    c, h, w = _as_chw(in_shape, node)
    if node.props.get("pooling", "max") == "global_average":
        return dict(c=c, h=h, w=w, kh=h, kw=w, sh=1, sw=1, ph=0, pw=0, oh=1, ow=1)
    kh, kw = node.props.get("pool_size", (2, 2))
    sh, sw = node.props.get("stride", (1, 1))  # NNTrainer's default (PyTorch: pool_size)
    padding = node.props.get("padding", "valid")
    ph, oh = window(h, kh, sh, padding, node, 0)
    pw, ow = window(w, kw, sw, padding, node, 1)
    return dict(c=c, h=h, w=w, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, oh=oh, ow=ow)


def conv_filters(node, channels):
    if node.type == "depthwise_conv2d":
        return channels * node.props.get("depth_multiplier", 1), channels
    if "filters" not in node.props:
        raise UserError("missing key 'filters'", node.where)
    return node.props["filters"], 1


def output_shape(node, in_shapes):
    """Infers node.shape from its inputs' shapes; raises UserError on mismatch."""
    kind = node.type
    if kind in MOVEMENT_SHAPES:
        return MOVEMENT_SHAPES[kind](node, in_shapes)
    if kind == "input":
        shape = node.props["input_shape"]
        return (shape[2],) if shape[0] == 1 and shape[1] == 1 else shape
    first = in_shapes[0]
    if kind == "fully_connected":
        if "unit" not in node.props:
            raise UserError("missing key 'unit'", node.where)
        return (*first[:-1], node.props["unit"])  # the last dimension only
    if kind in ("conv2d", "depthwise_conv2d"):
        geometry = conv_geometry(node, first)
        filters, _ = conv_filters(node, geometry["c"])
        return (filters, geometry["oh"], geometry["ow"])
    if kind == "pooling2d":
        geometry = pool_geometry(node, first)
        return (geometry["c"], geometry["oh"], geometry["ow"])
    if kind == "flatten":
        return (numel(first),)
    if kind == "reshape":
        target = node.props.get("target_shape")
        if target is None:
            raise UserError("missing key 'target_shape'", node.where)
        if numel(target) != numel(first):
            raise UserError(f"target_shape {_fmt(target)} has {numel(target)} elements, "
                            f"the input {_fmt(first)} has {numel(first)}", node.where)
        return (target[2],) if target[0] == 1 and target[1] == 1 else target
    if kind in ("addition", "subtract", "multiply"):
        for other in in_shapes[1:]:
            if other != first:
                raise UserError(f"{kind} inputs differ in shape: {_fmt(first)} vs {_fmt(other)}",
                                node.where)
        return first
    if kind == "activation" and "activation" not in node.props:
        raise UserError("missing key 'activation'", node.where)
    return first  # activation, batch_normalization, dropout keep the shape
