"""concat, permute, upsample2d (nearest): data movement, no weights."""
from types import SimpleNamespace

from host_tools.graph.builder import CALC_DERIV, FORWARD
from host_tools.graph.movement_shapes import concat_geometry, full, slice_geometry


def _no_params(b, node):
    pass


def _concat_params(b, node):
    outer, rows = concat_geometry(node, node.in_shapes, b.batch)
    return [outer, len(rows), *rows]


def _concat_forward(b, node, xs, y):
    b.op("CONCAT", FORWARD, [y, *xs], _concat_params(b, node), layer=node.name)


def _concat_deriv(b, node, dy, dxs):
    b.op("CONCAT_DERIV", CALC_DERIV, [dy, *[-1 if dx is None else dx for dx in dxs]],
         _concat_params(b, node), layer=node.name)


def _strides(shape):
    return (shape[1] * shape[2], shape[2], 1)


def _permute_params(b, dims, source_strides):
    return [b.batch, *dims, *source_strides]


def _permute_forward(b, node, x, y):
    shape, direction = full(node.in_shapes[0]), node.props["direction"]
    dims = [shape[axis - 1] for axis in direction]
    strides = [_strides(shape)[axis - 1] for axis in direction]
    b.op("PERMUTE", FORWARD, [x, y], _permute_params(b, dims, strides), layer=node.name)


def _permute_deriv(b, node, dy, dxs):
    """dX = dY permuted back: input axis a sits at position direction.index(a + 1) of Y."""
    shape, direction = full(node.in_shapes[0]), node.props["direction"]
    out_strides = _strides([shape[axis - 1] for axis in direction])
    strides = [out_strides[direction.index(axis + 1)] for axis in range(3)]
    b.op("PERMUTE", CALC_DERIV, [dy, dxs[0]], _permute_params(b, shape, strides),
         layer=node.name)


def _upsample_params(b, node):
    c, h, w = node.in_shapes[0]
    kh, kw = node.props.get("kernel_size", (2, 2))
    return [b.batch * c, h, w, kh, kw]


def _upsample_forward(b, node, x, y):
    b.op("UPSAMPLE_FWD", FORWARD, [x, y], _upsample_params(b, node), layer=node.name)


def _upsample_deriv(b, node, dy, dxs):
    b.op("UPSAMPLE_DERIV", CALC_DERIV, [dy, dxs[0]], _upsample_params(b, node), layer=node.name)


def _slice_forward(b, node, x, y):
    b.op("SLICE", FORWARD, [x, y], slice_geometry(node, node.in_shapes[0], b.batch),
         layer=node.name)


def _slice_deriv(b, node, dy, dxs):
    b.op("SLICE_DERIV", CALC_DERIV, [dy, dxs[0]], slice_geometry(node, node.in_shapes[0], b.batch),
         layer=node.name)


split_slice = SimpleNamespace(params=_no_params, forward=_slice_forward, calc_deriv=_slice_deriv)
concat = SimpleNamespace(params=_no_params, forward=_concat_forward, calc_deriv=_concat_deriv,
                         multi_input=True)
permute = SimpleNamespace(params=_no_params, forward=_permute_forward, calc_deriv=_permute_deriv)
upsample2d = SimpleNamespace(params=_no_params, forward=_upsample_forward,
                             calc_deriv=_upsample_deriv)
