"""int8 / fixed precision on the host: the [Model] setting and its errors,
the quantization maths against an independent computation, calibration,
planner byte sizes, bundles carrying dtypes and scales, host training."""
import fractions
import math

import numpy as np
import pytest

from host_tools.cli import main
from host_tools.errors import UserError
from host_tools.graph.tensors import Tensor
from host_tools.model.api import Model
from host_tools.model.ini import load_ini
from host_tools.quantize import scales

HEAD = "[Model]\ntype = NeuralNetwork\nbatch_size = 4\nloss = cross\n{extra}" \
       "[Optimizer]\ntype = sgd\nlearning_rate = 0.1\n" \
       "[in]\ntype = input\ninput_shape = 1:1:8\n[fc]\ntype = fully_connected\nunit = 3\n" \
       "activation = softmax\n"


def ini(tmp_path, extra=""):
    path = tmp_path / "m.ini"
    path.write_text(HEAD.format(extra=extra))
    return path


# ------------------------------------------------------------------ the setting

@pytest.mark.parametrize("text, expected", [("", "float32"), ("precision = int8\n", "int8"),
                                            ("precision = FIXED\n", "fixed"),
                                            ("precision = float32\n", "float32")])
def test_ini_precision(tmp_path, text, expected):
    assert load_ini(ini(tmp_path, text)).precision == expected


def test_bad_ini_precision_names_file_section_and_choices(tmp_path):
    with pytest.raises(UserError) as error:
        load_ini(ini(tmp_path, "precision = int4\n"))
    assert "[Model] precision" in str(error.value)
    assert "'int4' must be one of float32, int8, fixed" in str(error.value)


def test_api_precision_and_qas():
    model = Model(loss="cross", precision="int8", qas=False)
    model.add("in", "input", input_shape="1:1:8").add("fc", "fully_connected", unit=3)
    spec = model.spec()
    assert (spec.precision, spec.qas) == ("int8", False)
    assert Model(loss="cross").spec().precision == "float32"
    with pytest.raises(UserError, match="precision='double' must be one of"):
        Model(precision="double")


@pytest.mark.parametrize("argv, words", [
    (["--precision", "int4"], "argument --precision: invalid choice: 'int4'"),
    (["--no-qas"], "--no-qas applies to int8 only (precision is float32)"),
    (["--precision", "fixed", "--no-qas"], "--no-qas applies to int8 only (precision is fixed)"),
])
def test_bad_precision_options_are_one_line(tmp_path, capsys, argv, words):
    for command in ("plan", "train"):
        try:
            code = main([command, str(ini(tmp_path)), *argv])
        except SystemExit as exit_:
            code = exit_.code
        assert code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err


# ------------------------------------------------------------------ the maths

def test_weight_scales_per_output_channel_exactly():
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((5, 3, 2, 2)).astype(np.float32)
    weight[2] = 0.0
    got = scales.weight_scales(weight)
    for channel in range(5):
        peak = max(abs(float(v)) for v in weight[channel].ravel())
        assert got[channel] == np.float32(max(peak, scales.TINY) / 127)
    q = scales.quantize_weight(weight, got)
    assert q.dtype == np.int8 and q.min() >= -127
    for channel in range(5):   # the channel's largest |w| lands on +-127, 0 stays 0
        if channel != 2:
            assert np.abs(q[channel]).max() == 127
    assert not q[2].any()
    error = np.abs(scales.dequantize(q, got, axis=0) - weight)
    assert (error <= got[:, None, None, None] / 2 * (1 + 1e-6)).all()


@pytest.mark.parametrize("value, expected", [(0.5, 1), (-0.5, -1), (1.5, 2), (2.5, 3),
                                             (-2.5, -3), (0.49999997, 0)])
def test_rounding_is_half_away_from_zero(value, expected):
    assert scales.round_half_away(value) == expected


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-1.84, 1.65), (0.3, 2.0), (-3.0, -1.0),
                                       (0.0, 0.0)])
def test_activation_params_hold_zero_exactly_and_span_the_range(low, high):
    scale, zero_point = scales.activation_params(low, high)
    lo, hi = min(low, 0.0), max(high, 0.0)
    assert scale == np.float32(max(hi - lo, scales.TINY) / 255)
    assert -128 <= zero_point <= 127
    assert scales.quantize_activation(0.0, scale, zero_point) == zero_point   # 0 is exact
    assert scales.dequantize(zero_point, scale, zero_point) == 0.0
    q_low, q_high = (int(scales.quantize_activation(v, scale, zero_point)) for v in (lo, hi))
    if hi > lo:   # a real range fills the int8 codes; an all-zero one maps 0 to -128
        assert q_low <= -127 and q_high >= 126


@pytest.mark.parametrize("real", [0.5, 0.75, 1.0, 3e-4, 0.0123456789, 7.25, 2**-20 * 0.999999,
                                  0.9999999999, 30000.0])
def test_multiplier_is_the_nearest_15_bit_value(real):
    m, shift = scales.quantize_multiplier(real)
    assert 2**14 <= m < 2**15 and 0 <= shift <= 62
    exact = fractions.Fraction(real)
    approx = fractions.Fraction(m) / fractions.Fraction(2) ** shift
    assert abs(approx - exact) <= fractions.Fraction(1, 2) / fractions.Fraction(2) ** shift
    mantissa, exponent = math.frexp(real)    # the independent route: Python's own frexp
    expected = math.floor(mantissa * 2**15 + 0.5)
    assert (m, shift) == ((expected, 15 - exponent) if expected < 2**15 else (2**14, 14 - exponent))


@pytest.mark.parametrize("real", [0.0, -1.0, 2.0**16, 2.0**-49, float("nan")])
def test_multiplier_outside_the_range_is_refused(real):
    with pytest.raises(ValueError):
        scales.quantize_multiplier(real)


def test_negative_shift_only_on_request():
    assert scales.quantize_multiplier(2.0**20, allow_negative_shift=True) == (2**14, -6)


def test_weight_multipliers_share_one_exponent():
    s_w = np.array([0.0123, 0.5, 0.031, 1e-6], np.float32)
    m, exponent = scales.weight_multipliers(s_w)
    assert m.max() < 2**15 and m.max() >= 2**14
    for value, got in zip(s_w, m):
        assert abs(got * 2.0**-exponent - float(value)) <= 2.0**-exponent / 2


def test_bias_is_int32_at_the_accumulator_scale():
    bias = np.array([0.5, -0.25, 1e-9], np.float32)
    got = scales.quantize_bias(bias, 0.02, np.array([0.01, 0.1, 0.5], np.float32))
    assert got.dtype == np.int32
    expected = [math.floor(abs(float(b)) / (float(np.float32(0.02)) * float(s)) + 0.5)
                * (1 if b >= 0 else -1)
                for b, s in zip(bias, np.array([0.01, 0.1, 0.5], np.float32))]
    assert got.tolist() == expected


# ------------------------------------------------------------------ planner bytes

@pytest.mark.parametrize("dtype, size", [("f32", 4), ("i32", 4), ("u32", 4), ("i16", 2),
                                         ("i8", 1), ("u8", 1)])
def test_tensor_bytes_follow_the_dtype(dtype, size):
    assert Tensor(0, "t", (3, 5), "activation", dtype=dtype).nbytes == 15 * size
