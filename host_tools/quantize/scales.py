"""The quantization maths, in numpy, with every rounding stated:
real = scale * (q - zero_point).

- weights: int8, symmetric (zero point 0), one scale per output channel
  (axis 0 in PyTorch layouts), q in [-127, 127] so that -q never overflows;
- activations: int8, affine per tensor, the range widened to hold 0 exactly;
- a real multiplier (e.g. s_in * s_w / s_out) as a 15-bit integer and a power
  of two, so that requantization needs no float: real ~= M * 2**-sh (docs/int8.md).
Rounding is half away from zero (np.round rounds half to even: not used)."""
import numpy as np

Q_MIN, Q_MAX = -128, 127
W_MAX = 127
# element bytes -> (activation range, weight bound): int8 for int8, int16 for fixed
LIMITS = {1: ((-128, 127), 127), 2: ((-32768, 32767), 32767)}
TINY = 1e-8   # the scale of an all-zero channel / range, so nothing divides by 0


def round_half_away(values):
    values = np.asarray(values, np.float64)
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def weight_scales(weight, element_bytes=1, headroom=1.0):
    """Per output channel: headroom * max |w| / 127 (int16: / 32767), float32, shape (out,)."""
    weight = np.asarray(weight, np.float64)
    peak = np.abs(weight.reshape(len(weight), -1)).max(axis=1)
    return (np.maximum(peak, TINY) * headroom / LIMITS[element_bytes][1]).astype(np.float32)


def quantize_weight(weight, scales, element_bytes=1):
    """int8 (int16) weights, scales broadcast over each output channel."""
    weight = np.asarray(weight, np.float64)
    per_row = np.asarray(scales, np.float64).reshape((-1,) + (1,) * (weight.ndim - 1))
    bound = LIMITS[element_bytes][1]
    return np.clip(round_half_away(weight / per_row), -bound, bound).astype(
        np.int8 if element_bytes == 1 else np.int16)


def activation_params(low, high, element_bytes=1):
    """(scale, zero point) for a calibrated range. int8: [low, high] (widened to
    hold 0) onto -128..127; fixed (int16): symmetric, zero point 0."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if element_bytes == 2:
        return np.float32(max(-low, high, TINY) / 32767), 0
    scale = max(high - low, TINY) / (Q_MAX - Q_MIN)
    zero_point = int(np.clip(round_half_away(Q_MIN - low / scale), Q_MIN, Q_MAX))
    return np.float32(scale), zero_point


def quantize_activation(values, scale, zero_point, element_bytes=1):
    (low, high), _ = LIMITS[element_bytes]
    q = round_half_away(np.asarray(values, np.float64) / float(scale)) + zero_point
    return np.clip(q, low, high).astype(np.int8 if element_bytes == 1 else np.int16)


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


MULTIPLIER_BITS = 15   # docs/int8.md: M in [2**14, 2**15), real ~= M * 2**-sh


def quantize_multiplier(real, allow_negative_shift=False):
    """real > 0 -> (M, sh) with M in [2**14, 2**15) and real ~= M * 2**-sh, sh in [0, 62]
    (a negative sh, a left shift, only where the kernel adds an exponent first)."""
    real = float(real)
    if not (real > 0 and np.isfinite(real)):
        raise ValueError(f"multiplier {real} must be a positive finite number")
    mantissa, exponent = np.frexp(real)          # real = mantissa * 2**exponent, mantissa in [.5, 1)
    m = int(round_half_away(mantissa * 2**MULTIPLIER_BITS))
    if m == 2**MULTIPLIER_BITS:                   # the mantissa rounded up to 1.0
        m, exponent = m // 2, exponent + 1
    shift = MULTIPLIER_BITS - int(exponent)
    if shift > 62 or (shift < 0 and not allow_negative_shift):
        raise ValueError(f"multiplier {real:g} is outside the integer range "
                         f"(2**-47 .. 2**15)")
    return m, shift


def channel_multipliers(reals, allow_negative_shift=False):
    """Per-channel multipliers as the int32 tensor the kernels read: M[0..C) then sh[0..C)."""
    pairs = [quantize_multiplier(r, allow_negative_shift) for r in np.asarray(reals).ravel()]
    return np.array([m for m, _ in pairs] + [sh for _, sh in pairs], np.int32)


def weight_multipliers(weight_scales_):
    """QFC_DERIV's WS and ws_exp: s_w[o] ~= m_w[o] * 2**-ws_exp, m_w < 2**15 (one exponent)."""
    scales_ = np.asarray(weight_scales_, np.float64)
    exponent = MULTIPLIER_BITS - int(np.frexp(scales_.max())[1])
    m = round_half_away(scales_ * 2.0**exponent)
    if m.max() >= 2**MULTIPLIER_BITS:             # the largest rounded up to 2**15
        exponent -= 1
        m = round_half_away(scales_ * 2.0**exponent)
    return m.astype(np.int32), exponent
