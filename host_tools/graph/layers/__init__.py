"""Per-layer emitters: each module turns one layer type into forward,
calc_gradient and calc_derivative ops. Registry by layer type."""
from host_tools.graph.layers import (binary, conv, layer_norm, movement, dense, elementwise, normalization, pooling,
                                     activation, dropout)

EMITTERS = {
    "fully_connected": dense,
    "conv2d": conv,
    "depthwise_conv2d": conv,
    "pooling2d": pooling,
    "activation": activation,
    "batch_normalization": normalization,
    "addition": elementwise.addition,
    "subtract": binary.subtract,
    "layer_normalization": layer_norm,
    "concat": movement.concat,
    "slice": movement.split_slice,
    "permute": movement.permute,
    "upsample2d": movement.upsample2d,
    "multiply": binary.multiply,
    "flatten": elementwise.view_copy,
    "reshape": elementwise.view_copy,
    "identity": elementwise.view_copy,
    "dropout": dropout,
}
