"""Integer convolution (groups and depthwise included) and pooling through the
C executor against the numpy reference (tests/int8_reference.py), bit for bit,
in int8 and int16; strides, padding and floor-rounded windows."""
import numpy as np
import pytest

import int8_reference as ref
from int8_program import DERIV, FWD, GRAD, Program, g16_bytes

# N, C, H, W, OC, KH, KW, SH, SW, PH, PW, G
CONV_CASES = [
    (1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 1),
    (2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1),
    (2, 4, 8, 8, 6, 3, 2, 2, 2, 1, 0, 2),     # groups, stride 2
    (3, 5, 6, 7, 5, 3, 3, 2, 1, 1, 1, 5),     # depthwise
    (1, 2, 9, 9, 3, 5, 5, 3, 3, 2, 2, 1),     # floor-rounded windows
]


def out_size(i, k, s, p):
    return (i + 2 * p - k) // s + 1


def rand(g, shape, e, lo=None, hi=None):
    tlo, thi = ref.INT_RANGE[e]
    return g.integers(tlo if lo is None else lo, (thi if hi is None else hi) + 1,
                      size=shape).astype(ref.DTYPES[e])


def pack(zx, zy):
    return (zx + 128) | (zy + 128) << 8


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("e", [1, 2])
def test_qconv(case, e):
    n, c, h, w, oc, kh, kw, sh, sw, ph, pw, groups = case
    oh, ow = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    g = np.random.default_rng(sum(case) * 10 + e)
    lo, hi = ref.WEIGHT_RANGE[e]
    x = rand(g, (n, c, h, w), e)
    wt = rand(g, (oc, c // groups, kh, kw), e, lo, hi)
    zx, zy = int(g.integers(-128, 128)), int(g.integers(-20, 21))
    rms_x = np.sqrt(np.mean((x.astype(float) - zx) ** 2))
    acc_std = np.sqrt(c // groups * kh * kw) * rms_x * wt.astype(float).std()
    b = (g.uniform(-1, 1, size=oc) * acc_std).astype(np.int32)
    pairs = [ref.multiplier(ref.INT_RANGE[e][1] / 3 / acc_std * m) for m in np.exp(g.uniform(-1, 1, oc))]
    rq = np.array([p[0] for p in pairs] + [p[1] for p in pairs], np.int32)
    ws = g.integers(0, 2 ** 15, size=oc).astype(np.int32)
    dy = (int(g.integers(-30, 0)), g.integers(-32768, 32768, size=(n, oc, oh, ow)).astype(np.int16))
    ws_exp = int(g.integers(0, 30))
    shape = [n, c, h, w, oc, kh, kw, sh, sw, ph, pw, oh, ow, groups, e]
    prog = Program().tensor("X", x.nbytes).tensor("W", wt.nbytes).tensor("B", b.nbytes)
    prog.tensor("Y", n * oc * oh * ow * e).tensor("RQ", rq.nbytes).tensor("WS", ws.nbytes)
    prog.tensor("dY", g16_bytes(dy[1].size)).tensor("dW", g16_bytes(wt.size))
    prog.tensor("dB", g16_bytes(oc)).tensor("dX", g16_bytes(x.size))
    prog.op("QCONV_FWD", FWD, ["X", "W", "B", "Y", "RQ"], shape + [pack(zx, zy)])
    prog.op("QCONV_GRAD", GRAD, ["X", "dY", "dW", "dB"], shape + [pack(zx, 0)])
    prog.op("QCONV_DERIV", DERIV, ["dY", "W", "WS", "dX"], shape + [ws_exp]).build()
    for name, v in (("X", x), ("W", wt), ("B", b), ("RQ", rq), ("WS", ws)):
        prog.set(name, v)
    prog.set_g16("dY", dy)
    geometry = dict(stride=(sh, sw), pad=(ph, pw), out_hw=(oh, ow))
    want_y = ref.conv_fwd(x, wt, b, rq, zx, zy, e, groups=groups, **geometry)
    want_dw, want_db = ref.conv_grad(x, dy, zx, wt.shape, groups=groups, **geometry)
    want_dx = ref.conv_deriv(dy, wt, ws, ws_exp, x.shape, (sh, sw), (ph, pw), groups)
    for _ in range(2):   # the second run starts from the shift the outputs hold
        prog.run()
        np.testing.assert_array_equal(prog.get("Y", ref.DTYPES[e], want_y.shape), want_y)
        assert (np.abs(want_y.astype(int)) < ref.INT_RANGE[e][1]).mean() > 0.5  # mostly unsaturated
        for name, want, shp in (("dW", want_dw, wt.shape), ("dB", want_db, (oc,)), ("dX", want_dx, x.shape)):
            exp, vals = prog.get_g16(name, shp)
            assert exp == want[0], name
            np.testing.assert_array_equal(vals, want[1], err_msg=name)


# N, C, H, W, KH, KW, SH, SW, PH, PW
POOL_CASES = [
    (1, 1, 4, 4, 2, 2, 2, 2, 0, 0),
    (2, 3, 7, 7, 3, 3, 2, 2, 1, 1),
    (2, 2, 6, 5, 3, 2, 1, 1, 1, 0),       # overlapping windows
    (1, 2, 9, 9, 2, 2, 2, 2, 0, 0),       # floor: last row / column never read
]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("e", [1, 2])
def test_qpool(case, e):
    n, c, h, w, kh, kw, sh, sw, ph, pw = case
    oh, ow = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    g = np.random.default_rng(sum(case) + e)
    x = rand(g, (n, c, h, w), e)
    x[0, 0, 0, :2] = x[0, 0, 0, 0]  # a tie: the first maximum wins
    z = int(g.integers(-128, 128))
    dy = (int(g.integers(-20, 0)), g.integers(-32768, 32768, size=(n, c, oh, ow)).astype(np.int16))
    shape = [n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow]
    prog = Program().tensor("X", x.nbytes).tensor("Y", n * c * oh * ow * e).tensor("IDX", 4 * n * c * oh * ow)
    prog.tensor("A", n * c * oh * ow * e).tensor("dY", g16_bytes(n * c * oh * ow))
    prog.tensor("dXm", g16_bytes(x.size)).tensor("dXa", g16_bytes(x.size))
    prog.tensor("Y2", n * c * oh * ow * e).tensor("dXx", g16_bytes(x.size))
    prog.op("QMAXPOOL_FWD", FWD, ["X", "Y", "IDX"], shape + [e])
    prog.op("QMAXPOOL_FWD", FWD, ["X", "Y2", None], shape + [e])      # no IDX
    prog.op("QAVGPOOL_FWD", FWD, ["X", "A"], shape + [e, z])
    prog.op("QMAXPOOL_DERIV", DERIV, ["dY", "IDX", "dXm"], shape)
    prog.op("QMAXPOOL_DERIV_X", DERIV, ["dY", "X", "dXx"], shape + [e])   # maxima found again in X
    prog.op("QAVGPOOL_DERIV", DERIV, ["dY", "dXa"], shape).build()
    prog.set("X", x)
    prog.set_g16("dY", dy)
    prog.run()
    geometry = dict(k=(kh, kw), stride=(sh, sw), pad=(ph, pw), out_hw=(oh, ow))
    y, idx = ref.maxpool_fwd(x, **geometry)
    np.testing.assert_array_equal(prog.get("Y", ref.DTYPES[e], y.shape), y)
    np.testing.assert_array_equal(prog.get("Y2", ref.DTYPES[e], y.shape), y)
    np.testing.assert_array_equal(prog.get("IDX", np.int32, idx.shape), idx)
    np.testing.assert_array_equal(prog.get("A", ref.DTYPES[e], y.shape), ref.avgpool_fwd(x, z, e, **geometry))
    for name, want in (("dXm", ref.maxpool_deriv(dy, idx, x.shape)),
                       ("dXx", ref.maxpool_deriv(dy, idx, x.shape)),
                       ("dXa", ref.avgpool_deriv(dy, x.shape, **geometry))):
        exp, vals = prog.get_g16(name, x.shape)
        assert exp == want[0], name
        np.testing.assert_array_equal(vals, want[1], err_msg=name)
