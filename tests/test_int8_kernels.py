"""Every integer kernel (docs/int8.md) through the C executor against the
independent numpy reference (tests/int8_reference.py), bit for bit: random
shapes in int8 and int16 (E = 1, 2), full-range values, saturating and hostile
multipliers, out-of-range labels."""
import ctypes

import numpy as np
import pytest

import int8_reference as ref
from core_cy import ExecutorError
from int8_program import APPLY, DERIV, FWD, GRAD, Program, g16_bytes
from kernel_lib import lib  # noqa: F401  (fixture)

MT_ERR_BAD_OP = 1


def rng(seed):
    return np.random.default_rng(seed)


def rand_q(g, shape, e, lo=None, hi=None):
    tlo, thi = ref.INT_RANGE[e]
    return g.integers(tlo if lo is None else lo, (thi if hi is None else hi) + 1,
                      size=shape).astype(ref.DTYPES[e])


def rand_g16(g, shape, exp_range=(-30, 5)):
    return int(g.integers(*exp_range)), g.integers(-32768, 32768, size=shape).astype(np.int16)


def rq_tensor(g, out, acc_std, e, hostile=False):
    """Per-channel (M, sh) that map sums of about acc_std to about a third of the
    output range (some saturate); hostile adds out-of-range pairs."""
    target = ref.INT_RANGE[e][1] / 3 / max(acc_std, 1.0)
    pairs = [ref.multiplier(float(m)) for m in target * np.exp(g.uniform(-1.5, 1.5, size=out))]
    m = np.array([p[0] for p in pairs], np.int32)
    sh = np.array([p[1] for p in pairs], np.int32)
    if hostile:
        m[::3] = g.integers(-2 ** 31, 2 ** 31 - 1, size=m[::3].size)
        sh[1::3] = g.choice([-100, -62, 0, 63, 1000], size=sh[1::3].size)
    return np.concatenate([m, sh]).astype(np.int32)


FC_SHAPES = [(1, 1, 1), (3, 7, 5), (8, 64, 10), (5, 130, 9), (2, 65, 33), (300, 5, 3)]


@pytest.mark.parametrize("n,i,o", FC_SHAPES)
@pytest.mark.parametrize("e", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_qfc_forward(n, i, o, e, bias):
    g = rng(n * 7919 + i * 31 + o + e * 5 + bias)
    lo, hi = ref.WEIGHT_RANGE[e]
    x, w = rand_q(g, (n, i), e), rand_q(g, (o, i), e, lo, hi)
    b = g.integers(-2 ** 31, 2 ** 31 - 1, size=o).astype(np.int32) if bias else None
    acc_std = np.sqrt(i) * x.astype(np.float64).std() * w.astype(np.float64).std()
    rq = rq_tensor(g, o, acc_std, e, hostile=(o > 5))
    zx, zy = (int(v) for v in rand_q(g, 2, e))
    prog = Program().tensor("X", x.nbytes).tensor("W", w.nbytes).tensor("B", 4 * o)
    prog.tensor("Y", n * o * e).tensor("RQ", rq.nbytes)
    prog.op("QFC_FWD", FWD, ["X", "W", "B" if bias else None, "Y", "RQ"], [n, i, o, e, zx, zy])
    prog.build()
    for name, v in (("X", x), ("W", w), ("RQ", rq)):
        prog.set(name, v)
    if bias:
        prog.set("B", b)
    prog.run()
    want = ref.fc_fwd(x, w, b, rq, zx, zy, e)
    np.testing.assert_array_equal(prog.get("Y", ref.DTYPES[e], (n, o)), want)


def test_qfc_forward_saturates_both_ways():
    """Large multipliers push every output to the int8 limits."""
    x = np.full((2, 4), 127, np.int8)
    x[1] = -128
    w = np.full((3, 4), 127, np.int8)
    rq = np.array([2 ** 14] * 3 + [0] * 3, np.int32)   # m = 2^14
    prog = Program().tensor("X", 8).tensor("W", 12).tensor("Y", 6).tensor("RQ", 24)
    prog.op("QFC_FWD", FWD, ["X", "W", None, "Y", "RQ"], [2, 4, 3, 1, 0, 0]).build()
    for name, v in (("X", x), ("W", w), ("RQ", rq)):
        prog.set(name, v)
    prog.run()
    np.testing.assert_array_equal(prog.get("Y", np.int8, (2, 3)), [[127] * 3, [-128] * 3])


@pytest.mark.parametrize("n,i,o", FC_SHAPES)
@pytest.mark.parametrize("e", [1, 2])
def test_qfc_grad_and_deriv(n, i, o, e):
    g = rng(n * 131 + i * 17 + o * 3 + e)
    lo, hi = ref.WEIGHT_RANGE[e]
    x, w = rand_q(g, (n, i), e), rand_q(g, (o, i), e, lo, hi)
    dy = rand_g16(g, (n, o))
    ws = g.integers(0, 2 ** 15, size=o).astype(np.int32)
    ws[::4] = g.choice([-5, 2 ** 15, 2 ** 31 - 1], size=ws[::4].size)  # clamped by the kernel
    zx, ws_exp = int(rand_q(g, 1, e)[0]), int(g.integers(0, 40))
    prog = Program().tensor("X", x.nbytes).tensor("W", w.nbytes).tensor("WS", 4 * o)
    prog.tensor("dY", g16_bytes(n * o)).tensor("dW", g16_bytes(o * i)).tensor("dB", g16_bytes(o))
    prog.tensor("dX", g16_bytes(n * i))
    prog.op("QFC_GRAD", GRAD, ["X", "dY", "dW", "dB"], [n, i, o, e, zx])
    prog.op("QFC_DERIV", DERIV, ["dY", "W", "WS", "dX"], [n, i, o, e, ws_exp]).build()
    for name, v in (("X", x), ("W", w), ("WS", ws)):
        prog.set(name, v)
    prog.set_g16("dY", dy)
    want_dw, want_db = ref.fc_grad(x, dy, zx)
    want_dx = ref.fc_deriv(dy, w, ws, ws_exp)
    # the kernels start from the shift the output held before: any prior
    # exponent (garbage, too small, too big, right) gives the same result
    for prior in (-2 ** 31, 0, want_dw[0] - 3, want_dw[0], want_dw[0] + 3, None):
        if prior is not None:
            prog.view("dW", np.int32)[0] = prior
            prog.view("dX", np.int32)[0] = max(prior - want_dw[0] + want_dx[0], -2 ** 31)
        prog.run()
        for name, want, shape in (("dW", want_dw, (o, i)), ("dB", want_db, (o,)),
                                  ("dX", want_dx, (n, i))):
            exp, vals = prog.get_g16(name, shape)
            assert exp == want[0], (name, prior)
            np.testing.assert_array_equal(vals, want[1], err_msg="%s %s" % (name, prior))


@pytest.mark.parametrize("n", [256, 257])
def test_qfc_grad_extreme_sums(n):
    """int8 weight-gradient sums at their largest (|dy| = 2^15, |x - zx| = 255):
    32-bit sums up to 256 samples, 64-bit beyond."""
    x = np.full((n, 3), 127, np.int8)
    x[:, 1] = -128
    dy = (-3, np.full((n, 2), -32768, np.int16))
    prog = Program().tensor("X", x.nbytes).tensor("dY", g16_bytes(2 * n)).tensor("dW", g16_bytes(6))
    prog.op("QFC_GRAD", GRAD, ["X", "dY", "dW", None], [n, 3, 2, 1, -128]).build()
    prog.set("X", x)
    prog.set_g16("dY", dy)
    prog.run()
    want = ref.fc_grad(x, dy, -128)[0]
    exp, vals = prog.get_g16("dW", (2, 3))
    assert exp == want[0] and exp > -3
    np.testing.assert_array_equal(vals, want[1])


def test_g16_of_zero_sums_keeps_the_exponent():
    dy = (-7, np.zeros((2, 3), np.int16))
    prog = Program().tensor("X", 8).tensor("dY", g16_bytes(6)).tensor("dW", g16_bytes(12))
    prog.op("QFC_GRAD", GRAD, ["X", "dY", "dW", None], [2, 4, 3, 1, 0]).build()
    prog.set("X", np.arange(8, dtype=np.int8))
    prog.set_g16("dY", dy)
    prog.set_g16("dW", (99, np.full(12, 5, np.int16)))
    prog.run()
    exp, vals = prog.get_g16("dW", (3, 4))
    assert exp == -7 and not vals.any()


@pytest.mark.parametrize("e", [1, 2])
@pytest.mark.parametrize("in_place", [False, True])
def test_qrelu(e, in_place):
    g = rng(e * 10 + in_place)
    numel = 301
    x = rand_q(g, numel, e)
    z = int(rand_q(g, 1, e)[0])
    dy = rand_g16(g, numel)
    prog = Program().tensor("X", x.nbytes).tensor("dY", g16_bytes(numel))
    if in_place:
        prog.alias("Y", "X").alias("dX", "dY")
    else:
        prog.tensor("Y", x.nbytes).tensor("dX", g16_bytes(numel))
    prog.op("QRELU_FWD", FWD, ["X", "Y"], [numel, e, z])
    prog.op("QRELU_DERIV", DERIV, ["Y", "dY", "dX"], [numel, e, z]).build()
    prog.set("X", x)
    prog.set_g16("dY", dy)
    prog.run()
    y = ref.relu_fwd(x, z)
    np.testing.assert_array_equal(prog.get("Y", ref.DTYPES[e], (numel,)), y)
    exp, vals = prog.get_g16("dX", (numel,))
    want = ref.relu_deriv(y, dy, z)
    assert exp == want[0]
    np.testing.assert_array_equal(vals, want[1])


@pytest.mark.parametrize("e", [1, 2])
def test_qnarrow(e):
    g = rng(3 + e)
    x = g.integers(-2 ** 31, 2 ** 31 - 1, size=200).astype(np.int32)
    x[:6] = [-129, -128, 127, 128, -32769, 32768]
    prog = Program().tensor("X", x.nbytes).tensor("Y", 200 * e)
    prog.op("QNARROW", FWD, ["X", "Y"], [200, e]).build()
    prog.set("X", x)
    prog.run()
    np.testing.assert_array_equal(prog.get("Y", ref.DTYPES[e], (200,)), ref.narrow(x, e))


# ---------------------------------------------------------------- softmax cross entropy

def test_exp2_and_log2_helpers(lib):  # noqa: F811
    lib.mt_exp2_q30.restype = ctypes.c_int64
    lib.mt_exp2_q30.argtypes = [ctypes.c_int64]
    lib.mt_log2_q16.restype = ctypes.c_int64
    lib.mt_log2_q16.argtypes = [ctypes.c_int64]
    lib.mt_q_to_f32_bits.restype = ctypes.c_uint32
    lib.mt_q_to_f32_bits.argtypes = [ctypes.c_int64, ctypes.c_int]
    for u in list(range(0, 2 ** 17, 7)) + [31 * 2 ** 16 - 1, 31 * 2 ** 16, 2 ** 40]:
        assert lib.mt_exp2_q30(u) == ref.exp2_q30(u), u
    g = rng(0)
    for p in [1, 2, 3, 2 ** 29, 2 ** 30 - 1, 2 ** 30] + [int(v) for v in g.integers(1, 2 ** 30, 3000)]:
        assert lib.mt_log2_q16(p) == ref.log2_q16(p), p
    for v in [0, 1, 3, 2 ** 24 - 1, 2 ** 24 + 1, 2 ** 25 + 3, 2 ** 40 + 2 ** 16] + \
            [int(x) for x in g.integers(1, 2 ** 62, 2000)]:
        for frac in (0, 16):
            got = np.uint32(lib.mt_q_to_f32_bits(v, frac)).view(np.float32)
            assert got == np.float32(v / 2 ** frac), (v, frac)
    # the tables' accuracy: exp to 2e-7 relative, log to 2 Q16 units
    assert abs(ref.exp2_q30(3 * 2 ** 15) / 2 ** 30 - 2 ** -1.5) < 2e-7
    assert abs(ref.log2_q16(3 * 2 ** 28) - 65536 * np.log2(0.75)) <= 2


CE_CASES = [(1, 2, 1, 0.05), (8, 10, 1, 0.1), (5, 3, 2, 0.0007), (32, 10, 1, 3.0), (6, 17, 2, 0.01)]


@pytest.mark.parametrize("n,f,e,s_z", CE_CASES)
def test_qce_softmax(n, f, e, s_z):
    g = rng(n * 100 + f)
    z = rand_q(g, (n, f), e)
    z[0, :] = z[0, 0]  # ties: the first maximum is the prediction
    labels = g.integers(0, f, size=n).astype(np.int32)
    labels[-1] = f if n > 2 else labels[-1]     # out of range: zero row
    mz, shz = ref.multiplier(s_z * 2 ** 16)
    prog = Program().tensor("Z", z.nbytes).tensor("T", 4 * n).tensor("P", 4 * n * f)
    prog.tensor("dZ", g16_bytes(n * f))
    prog.op("QCE_SOFTMAX_FWD", FWD, ["Z", "T", "P", "METRICS"], [n, f, e, mz, shz])
    prog.op("QCE_SOFTMAX_DERIV", DERIV, ["P", "T", "dZ"], [n, f]).build()
    prog.set("Z", z)
    prog.set("T", labels)
    prog.run()
    p, loss, correct = ref.ce_fwd(z, labels, mz, shz)
    np.testing.assert_array_equal(prog.get("P", np.int32, (n, f)), p)
    metrics = prog.get("METRICS", np.float32)
    assert metrics[0] == loss and metrics[1] == correct
    exp, vals = prog.get_g16("dZ", (n, f))
    want = ref.ce_deriv(p, labels)
    assert exp == want[0]
    np.testing.assert_array_equal(vals, want[1])


def test_qce_is_close_to_the_real_softmax():
    """The fixed-point softmax and loss track float64 (not bit-exactness: accuracy)."""
    g = rng(9)
    s_z = 0.08
    z = rand_q(g, (16, 10), 1)
    labels = g.integers(0, 10, size=16)
    mz, shz = ref.multiplier(s_z * 2 ** 16)
    p, loss, _ = ref.ce_fwd(z, labels, mz, shz)
    logits = z.astype(np.float64) * s_z
    soft = np.exp(logits - logits.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    assert np.abs(p / 2 ** 30 - soft).max() < 1e-5
    true_loss = -np.log(soft[np.arange(16), labels]).mean()
    assert abs(loss - true_loss) < 1e-3 * max(1.0, true_loss)


# ---------------------------------------------------------------- SGD

SGD_CASES = [(1, 12, 3, 0), (1, 64, 8, 29491), (2, 40, 4, 29491), (4, 10, 10, 16384), (1, 7, 1, 32767)]


@pytest.mark.parametrize("e,numel,ch,mu", SGD_CASES)
def test_qsgd(e, numel, ch, mu):
    g = rng(e * 1000 + numel + mu)
    lo, hi = ref.WEIGHT_RANGE[e]
    w = rand_q(g, numel, e, lo, hi)
    w[:2] = [lo, hi]  # saturate at the symmetric limits
    dw = rand_g16(g, numel, (-20, 0))
    scales = np.exp(g.uniform(-8, -2, size=ch))
    lr = ref.sgd_multipliers(0.05, scales, 0.02, e=e)
    # m16 momentum: exponent in [0, 16] (the largest one saturates int32 sums)
    mom = (int(g.integers(0, 17)), g.integers(-2 ** 15, 2 ** 15, size=numel).astype(np.int16)) if mu else None
    state = int(g.integers(1, 2 ** 32))
    prog = Program().tensor("W", w.nbytes).tensor("dW", g16_bytes(numel)).tensor("LR", lr.nbytes)
    prog.tensor("RNG", 4).tensor("MOM", g16_bytes(numel))
    prog.op("QSGD_APPLY", APPLY, ["W", "dW", "LR", "RNG"] + (["MOM"] if mu else []),
            [numel, e, ch, mu]).build()
    prog.set("W", w)
    prog.set_g16("dW", dw)
    prog.set("LR", lr)
    prog.set("RNG", np.array([state], np.uint32))
    if mu:
        prog.set_g16("MOM", mom)
    for _ in range(3):  # three steps: the state carries over
        prog.run()
        w, state, mom = ref.sgd(w, dw, lr, state, mom, mu, e, ch)
        np.testing.assert_array_equal(prog.get("W", ref.DTYPES[e], (numel,)), w)
        assert int(prog.get("RNG", np.uint32)[0]) == state
        if mu:
            exp, vals = prog.get_g16("MOM", (numel,))
            assert exp == mom[0]
            np.testing.assert_array_equal(vals, mom[1])


def test_qsgd_stochastic_rounding_is_unbiased():
    """A step of 1/16 LSB moves a weight by 1 about 1/16 of the time."""
    numel = 4000
    lr = np.array([2 ** 14, 16], np.int32)   # m = 2^14 / 2^16
    # g = 2^14, exponent 0: delta = 2^14 * 2^14 / 2^16 = 2^12 (Q16), 1/16 of an LSB
    dw = (0, np.full(numel, 2 ** 14, np.int16))
    prog = Program().tensor("W", numel).tensor("dW", g16_bytes(numel)).tensor("LR", 8)
    prog.tensor("RNG", 4)
    prog.op("QSGD_APPLY", APPLY, ["W", "dW", "LR", "RNG"], [numel, 1, 1, 0]).build()
    prog.set_g16("dW", dw)
    prog.set("LR", lr)
    prog.set("RNG", np.array([12345], np.uint32))
    prog.run()
    moved = -prog.get("W", np.int8, (numel,)).astype(np.int64)
    assert set(np.unique(moved)) <= {0, 1}
    assert abs(moved.mean() - 1 / 16) < 0.015


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fixed_bias_moves_by_the_float_step(optimizer):
    """An int32 bias with a fixed-like scale s_b = 1e-10 moves by the float step
    (SGD: lr * G; Adam's first step: lr * sign G); a Q16 step would saturate int32."""
    s_b, lr, numel = 1e-10, 0.01, 6
    real_g = np.array([0.5, -0.25, 0.125, -1.0, 0.75, 0.0])
    dw = (-15, np.round(real_g * 2 ** 15).astype(np.int16))
    prog = Program().tensor("W", 4 * numel).tensor("dW", g16_bytes(numel)).tensor("LR", 8)
    prog.tensor("RNG", 4).tensor("M", 4 * numel).tensor("V", 4 * numel).tensor("STEP", 12)
    if optimizer == "sgd":
        lr_tensor = ref.sgd_multipliers(lr, [s_b], 1.0, e=4)
        prog.op("QSGD_APPLY", APPLY, ["W", "dW", "LR", "RNG"], [numel, 4, 1, 0]).build()
        want = lr * real_g
    else:
        lr_tensor = ref.adam_multipliers(lr, [s_b], e=4)
        prog.op("QADAM_APPLY", APPLY, ["W", "dW", "LR", "M", "V", "STEP", "RNG"],
                ref.adam_params(numel, 4, 1)).build()
        prog.set("STEP", np.array([0, 2 ** 30, 2 ** 30], np.int32))
        want = lr * np.sign(real_g)
    prog.set("W", np.zeros(numel, np.int32))
    prog.set_g16("dW", dw)
    prog.set("LR", lr_tensor)
    prog.set("RNG", np.array([5], np.uint32))
    prog.run()
    moved = -prog.get("W", np.int32, (numel,)).astype(np.float64) * s_b
    np.testing.assert_allclose(moved, want, rtol=1e-3, atol=1e-9)


# ---------------------------------------------------------------- float edges

@pytest.mark.parametrize("e", [1, 2])
def test_quantize_and_dequantize(e):
    g = rng(e)
    x = (g.standard_normal(500) * (3 if e == 1 else 3000)).astype(np.float32)
    x[:8] = [0.5, -0.5, 1.5, -2.5, np.nan, np.inf, -np.inf, 1e30]
    inv_scale, z = (1.0, 3) if e == 1 else (1.0, -7)
    prog = Program().tensor("X", x.nbytes).tensor("Q", 500 * e).tensor("Y", x.nbytes)
    prog.op("QUANTIZE", FWD, ["X", "Q"], [500, e, z], [inv_scale])
    prog.op("DEQUANTIZE", FWD, ["Q", "Y"], [500, e, z], [0.37]).build()
    prog.set("X", x)
    prog.run()
    q = ref.quantize(x, inv_scale, z, e)
    np.testing.assert_array_equal(prog.get("Q", ref.DTYPES[e], (500,)), q)
    assert list(q[:4]) == [1 + z, -1 + z, 2 + z, -3 + z]  # half away from zero
    np.testing.assert_array_equal(prog.get("Y", np.float32, (500,)), ref.dequantize(q, 0.37, z))


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("kind,params", [
    ("QFC_FWD", [2, 4, 3, 3, 0, 0]),        # E must be 1 or 2
    ("QFC_FWD", [2, 4, 3, 1, 128, 0]),      # zero point outside int8
    ("QFC_FWD", [2, 65537, 3, 1, 0, 0]),    # sums could overflow
    ("QSGD_APPLY", [12, 1, 5, 0]),          # channels must divide NUMEL
    ("QSGD_APPLY", [12, 1, 3, 32768]),      # mu is Q15 in [0, 1)
    ("QCE_SOFTMAX_FWD", [2, 3, 1, 40000, 0]),  # M has 15 bits
    ("QRELU_FWD", [10, 2, 40000]),
])
def test_bad_params_are_refused(kind, params):
    prog = Program()
    for i in range(5):
        prog.tensor("T%d" % i, 1 << 20)
    prog.op(kind, FWD, ["T0", "T1", "T2", "T3", "T4"][:{"QFC_FWD": 5, "QSGD_APPLY": 4,
                                                        "QCE_SOFTMAX_FWD": 4, "QRELU_FWD": 2}[kind]],
            params)
    with pytest.raises(ExecutorError) as info:
        prog.build()
    assert info.value.status == MT_ERR_BAD_OP


# ---------------------------------------------------------------- Adam

ADAM_CASES = [(1, 24, 4), (2, 30, 3), (4, 10, 10), (1, 7, 1)]


@pytest.mark.parametrize("e,numel,ch", ADAM_CASES)
def test_qadam(e, numel, ch):
    g = rng(e * 100 + numel)
    lo, hi = ref.WEIGHT_RANGE[e]
    w = rand_q(g, numel, e, lo, hi)
    w[:2] = [lo, hi]
    scales = np.exp(g.uniform(-8, -3, size=ch))
    lr = ref.adam_multipliers(0.01, scales, e=e)
    params = ref.adam_params(numel, e, ch)
    m = (0, np.zeros(numel, np.int16))
    v = (0, np.zeros(numel, np.int16))
    step = np.array([0, 2 ** 30, 2 ** 30], np.int32)
    state = int(g.integers(1, 2 ** 32))
    prog = Program().tensor("W", w.nbytes).tensor("dW", g16_bytes(numel)).tensor("LR", lr.nbytes)
    prog.tensor("M", g16_bytes(numel)).tensor("V", g16_bytes(numel)).tensor("STEP", 12).tensor("RNG", 4)
    prog.op("QADAM_APPLY", APPLY, ["W", "dW", "LR", "M", "V", "STEP", "RNG"], params).build()
    for name, value in (("W", w), ("LR", lr), ("STEP", step), ("RNG", np.array([state], np.uint32))):
        prog.set(name, value)
    for it in range(4):   # gradients of changing size and sign, one all zero
        dw = rand_g16(g, numel, (-40, 10))
        if it == 2:
            dw = (dw[0], np.zeros(numel, np.int16))
        prog.set_g16("dW", dw)
        prog.run()
        w, state, m, v, step = ref.adam(w, dw, lr, state, m, v, step, params, e, ch)
        for name, want in (("M", m), ("V", v)):
            base, words = prog.get_g16(name, (numel,))
            assert base == want[0], name
            np.testing.assert_array_equal(words, want[1], err_msg=name)
        np.testing.assert_array_equal(prog.get("STEP", np.int32, (3,)), step)
        np.testing.assert_array_equal(prog.get("W", ref.DTYPES[e], (numel,)), w)
        assert int(prog.get("RNG", np.uint32)[0]) == state


def test_a16_state_tracks_the_real_moments():
    """m and v keep 10 significant bits: within 2^-8 of the largest float64 Adam
    moment of the same gradients (v also decays by beta2 below that)."""
    g = rng(4)
    params = ref.adam_params(50, 2, 1)
    m = (0, np.zeros(50, np.int16))
    v = (0, np.zeros(50, np.int16))
    fm = np.zeros(50)
    fv = np.zeros(50)
    w, step, state = np.zeros(50, np.int16), np.array([0, 2 ** 30, 2 ** 30], np.int32), 7
    lr = ref.adam_multipliers(1e-3, [1.0])
    for _ in range(5):
        dw = rand_g16(g, 50, (-30, -20))
        real = dw[1] * 2.0 ** dw[0]
        fm = 0.9 * fm + 0.1 * real
        fv = 0.999 * fv + 0.001 * real ** 2
        w, state, m, v, step = ref.adam(w, dw, lr, state, m, v, step, params, 2, 1)
    got_m = np.array([ref.a16_value(m[0], x) for x in m[1]])
    got_v = np.array([ref.a16_value(v[0], x) for x in v[1]])
    assert np.abs(got_m - fm).max() <= 2 ** -8 * np.abs(fm).max()
    assert np.abs(got_v - fv).max() <= 2 ** -8 * np.abs(fv).max()
    assert np.all(np.abs(got_v - fv) <= 2 ** -8 * fv + 1e-300)   # per element: per-element exponents


def test_qadam_first_step_moves_the_real_weight_by_lr():
    """Adam's first step is lr * sign(g): with QAS the real weight s_w q moves by
    about lr, without QAS by about lr * s_w."""
    numel, s_w, lr = 4000, 0.01, 0.003
    w0 = np.zeros(numel, np.int8)
    dw = (-20, np.full(numel, 1000, np.int16))
    params = ref.adam_params(numel, 1, 1)
    for qas, want in ((True, lr), (False, lr * s_w)):
        w, *_ = ref.adam(w0, dw, ref.adam_multipliers(lr, [s_w], qas), 99,
                         (0, np.zeros(numel, np.int16)), (0, np.zeros(numel, np.int16)),
                         np.array([0, 2 ** 30, 2 ** 30], np.int32), params, 1, 1)
        moved = -w.astype(np.float64).mean() * s_w
        assert abs(moved - want) < 0.05 * want + 3 * s_w / np.sqrt(numel), (qas, moved, want)
