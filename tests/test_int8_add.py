"""Integer residual addition (QADD_FWD, QG16_ADD) through the C executor,
bit-exact against the numpy reference (docs/int8.md, "Residual addition"), and
close to the real-valued sums."""
import numpy as np
import pytest

import int8_reference as ref
from core_cy import ExecutorError
from int8_program import DERIV, FWD, Program, g16_bytes
from kernel_lib import lib  # noqa: F401  (fixture)

MT_ERR_BAD_OP = 1


@pytest.mark.parametrize("e,alias", [(1, False), (1, True), (2, False)])
def test_qadd_fwd(e, alias):
    g = np.random.default_rng(e * 10 + alias)
    lo, hi = ref.INT_RANGE[e]
    n = 300
    a = g.integers(lo, hi + 1, size=n).astype(ref.DTYPES[e])
    b = g.integers(lo, hi + 1, size=n).astype(ref.DTYPES[e])
    za, zb, zy = (-5, 17, 3) if e == 1 else (0, 0, 0)
    s_a, s_b, s_y = 0.02, 0.05, 0.06        # different scales: both terms requantized
    rqa, rqb = ref.multiplier(s_a / s_y), ref.multiplier(s_b / s_y)
    params = [n, e, za, zb, zy, *rqa, *rqb]
    prog = Program().tensor("A", n * e).tensor("B", n * e).tensor("Y", n * e)
    out = "A" if alias else "Y"
    prog.op("QADD_FWD", FWD, ["A", "B", out], params).build()
    prog.set("A", a)
    prog.set("B", b)
    prog.run()
    want = ref.add_fwd(a, b, za, zb, zy, rqa, rqb, e)
    got = prog.get(out, ref.DTYPES[e], (n,))
    np.testing.assert_array_equal(got, want)
    real = s_a * (a.astype(np.float64) - za) + s_b * (b.astype(np.float64) - zb)
    inside = np.abs(real / s_y + zy) < hi - 2       # away from saturation
    assert inside.sum() > 50
    assert np.abs(s_y * (got[inside] - zy) - real[inside]).max() <= 1.01 * s_y


@pytest.mark.parametrize("gap", [0, 7, 40, 70])
@pytest.mark.parametrize("alias", [False, True])
def test_qg16_add(gap, alias):
    g = np.random.default_rng(gap + 100 * alias)
    n = 257
    a = (-20, g.integers(-32768, 32768, size=n).astype(np.int16))
    b = (-20 - gap, g.integers(-32768, 32768, size=n).astype(np.int16))
    a[1][:2] = b[1][:2] = [32767, -32768]     # the extreme sums carry into a new bit
    prog = Program().tensor("A", g16_bytes(n)).tensor("B", g16_bytes(n)).tensor("Y", g16_bytes(n))
    out = "A" if alias else "Y"
    prog.op("QG16_ADD", DERIV, ["A", "B", out], [n]).build()
    prog.set_g16("A", a)
    prog.set_g16("B", b)
    prog.run()
    want = ref.g16_add(a, b)
    exp, vals = prog.get_g16(out, (n,))
    assert exp == want[0]
    np.testing.assert_array_equal(vals, want[1])
    real = ref.g16_value(*a) + ref.g16_value(*b)
    assert np.abs(ref.g16_value(exp, vals) - real).max() <= 2.0 ** exp


@pytest.mark.parametrize("kind,params", [
    ("QADD_FWD", [10, 3, 0, 0, 0, 16384, 15, 16384, 15]),     # E must be 1 or 2
    ("QADD_FWD", [10, 1, 128, 0, 0, 16384, 15, 16384, 15]),   # zero point outside int8
    ("QADD_FWD", [10, 1, 0, 0, 0, 16384, 63, 16384, 15]),     # shift outside [-62, 62]
    ("QG16_ADD", [0]),
])
def test_bad_params_are_refused(kind, params):
    prog = Program()
    for name in ("A", "B", "Y"):
        prog.tensor(name, 1 << 12)
    prog.op(kind, FWD, ["A", "B", "Y"], params)
    with pytest.raises(ExecutorError) as info:
        prog.build()
    assert info.value.status == MT_ERR_BAD_OP
