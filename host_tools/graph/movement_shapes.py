"""Shapes of NNTrainer's data-movement layers on full c:h:w dims (a 1-D
feature shape (F,) is 1:1:F, and a 1:1:F result reads back as (F,)):
concat along `axis` (1 channel, 2 height, 3 width; default 1 as NNTrainer),
permute by `direction` (e.g. 1:3:2), upsample2d (nearest) by `kernel_size`."""
from host_tools.errors import UserError
from host_tools.graph.nodes import numel


def full(shape):
    return (1, 1, shape[0]) if len(shape) == 1 else tuple(shape)


def compact(shape):
    return (shape[2],) if shape[0] == 1 and shape[1] == 1 else tuple(shape)


def concat_axis(node):
    axes = node.props.get("axis", (1,))
    if len(axes) != 1:
        raise UserError("concat takes one axis", node.where)
    return axes[0]


def concat_geometry(node, in_shapes, batch=1):
    """(outer rows, [floats per row of each input]) for the CONCAT op."""
    axis = concat_axis(node)
    shapes = [full(shape) for shape in in_shapes]
    outer = batch * numel(shapes[0][:axis - 1])
    return outer, [numel(shape[axis - 1:]) for shape in shapes]


def concat_shape(node, in_shapes):
    axis = concat_axis(node)
    shapes = [full(shape) for shape in in_shapes]
    for shape in shapes[1:]:
        if shape[:axis - 1] + shape[axis:] != shapes[0][:axis - 1] + shapes[0][axis:]:
            raise UserError(f"concat inputs differ outside axis {axis}: "
                            f"{' vs '.join(':'.join(map(str, s)) for s in shapes)}", node.where)
    out = list(shapes[0])
    out[axis - 1] = sum(shape[axis - 1] for shape in shapes)
    return compact(out)


def permute_shape(node, in_shapes):
    direction = node.props.get("direction")
    if direction is None:
        raise UserError("missing key 'direction'", node.where)
    shape = full(in_shapes[0])
    return compact(tuple(shape[axis - 1] for axis in direction))


def upsample_shape(node, in_shapes):
    shape = in_shapes[0]
    if len(shape) != 3:
        raise UserError(f"upsample2d needs a c:h:w input, got {':'.join(map(str, shape))}",
                        node.where)
    kh, kw = node.props.get("kernel_size", (2, 2))
    return (shape[0], shape[1] * kh, shape[2] * kw)


def slice_geometry(node, in_shape, batch=1):
    """SLICE params [outer rows, floats per input row, offset, floats per output row]."""
    shape = full(in_shape)
    axis = node.props.get("split_dimension")
    if axis is None:
        raise UserError("missing key 'split_dimension'", node.where)
    size = shape[axis - 1]
    parts = node.props.get("split_number", size)
    if size % parts:
        raise UserError(f"split_number={parts} does not divide dimension {axis} ({size})",
                        node.where)
    if node.props["index"] >= parts:
        raise UserError(f"output {node.props['index']} of a {parts}-way split does not exist",
                        node.where)
    after = numel(shape[axis:])
    part = size // parts
    return [batch * numel(shape[:axis - 1]), size * after, node.props["index"] * part * after,
            part * after]


def slice_shape(node, in_shapes):
    shape = list(full(in_shapes[0]))
    axis = node.props["split_dimension"]
    slice_geometry(node, in_shapes[0])  # checks
    shape[axis - 1] //= node.props.get("split_number", shape[axis - 1])
    return compact(shape)


SHAPES = {"slice": slice_shape, "concat": concat_shape, "permute": permute_shape, "upsample2d": upsample_shape}
