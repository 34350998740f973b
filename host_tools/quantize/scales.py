"""The quantization maths, in numpy, with every rounding stated:
real = scale * (q - zero_point).

- weights: int8, symmetric (zero point 0), one scale per output channel
  (axis 0 in PyTorch layouts), q in [-127, 127] so that -q never overflows;
- activations: int8, affine per tensor, the range widened to hold 0 exactly;
- a real multiplier (e.g. s_in * s_w / s_out) as a Q31 integer and a power of
  two, so that requantization needs no float: M = m0 * 2**(shift - 31).
Rounding is half away from zero (np.round rounds half to even: not used)."""
import numpy as np

Q_MIN, Q_MAX = -128, 127
W_MAX = 127
TINY = 1e-8   # the scale of an all-zero channel / range, so nothing divides by 0


def round_half_away(values):
    values = np.asarray(values, np.float64)
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def weight_scales(weight):
    """Per output channel: max |w| / 127 (float32, shape (out,))."""
    weight = np.asarray(weight, np.float64)
    peak = np.abs(weight.reshape(len(weight), -1)).max(axis=1)
    return (np.maximum(peak, TINY) / W_MAX).astype(np.float32)


def quantize_weight(weight, scales):
    """int8 weights, scales broadcast over each output channel."""
    weight = np.asarray(weight, np.float64)
    per_row = np.asarray(scales, np.float64).reshape((-1,) + (1,) * (weight.ndim - 1))
    return np.clip(round_half_away(weight / per_row), -W_MAX, W_MAX).astype(np.int8)


def activation_params(low, high):
    """(scale, zero point) mapping [low, high] (widened to hold 0) onto -128..127."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = max(high - low, TINY) / (Q_MAX - Q_MIN)
    zero_point = int(np.clip(round_half_away(Q_MIN - low / scale), Q_MIN, Q_MAX))
    return np.float32(scale), zero_point


def quantize_activation(values, scale, zero_point):
    q = round_half_away(np.asarray(values, np.float64) / float(scale)) + zero_point
    return np.clip(q, Q_MIN, Q_MAX).astype(np.int8)


def dequantize(q, scale, zero_point=0, axis=None):
    """Back to float32; with axis, scale holds one value per index of that axis."""
    q = np.asarray(q, np.float64) - zero_point
    scale = np.asarray(scale, np.float64)
    if axis is not None:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
    return (q * scale).astype(np.float32)


def quantize_bias(bias, input_scale, weight_scales_):
    """int32 bias at the accumulator's scale s_in * s_w[c]."""
    scale = float(input_scale) * np.asarray(weight_scales_, np.float64)
    q = round_half_away(np.asarray(bias, np.float64) / scale)
    return np.clip(q, -2**31, 2**31 - 1).astype(np.int32)


def quantize_multiplier(real):
    """real > 0 -> (m0, shift) with m0 in [2**30, 2**31) and real ~= m0 * 2**(shift - 31)."""
    real = float(real)
    if not real > 0:
        raise ValueError(f"multiplier {real} must be > 0")
    mantissa, exponent = np.frexp(real)          # real = mantissa * 2**exponent, mantissa in [.5, 1)
    m0 = int(round_half_away(mantissa * 2**31))
    if m0 == 2**31:                              # the mantissa rounded up to 1.0
        m0, exponent = m0 // 2, exponent + 1
    return m0, int(exponent)
