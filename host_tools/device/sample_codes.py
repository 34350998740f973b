"""Samples as a bundle's loader reads them: float32 rows, or for a program
whose input is pre-quantized (precision fixed: MODL `input_pre_quantized`, no
float op on the board) the host-quantized int32 codes, with the scale and zero
point the bundle carries for its input node, rounded as `train` rounds them."""
import numpy as np

from host_tools.quantize import scales

ELEMENT_BYTES = {"int8": 1, "fixed": 2}


def board_samples(x, model):
    """x (n, ...) float -> what the board's loader expects, same shape (float32
    bits: int32 codes are carried in the float32 samples blob unchanged)."""
    if not model.get("input_pre_quantized"):
        return x
    name = next(layer["name"] for layer in model["layers"] if layer["type"] == "input")
    scale, zero_point = model["activations"][name]
    rows = np.asarray(x, np.float32).reshape(len(x), -1)
    codes = scales.quantize_activation(rows, np.float32(scale), zero_point,
                                       ELEMENT_BYTES[model["precision"]])
    return codes.astype(np.int32).view(np.float32).reshape(np.shape(x))
