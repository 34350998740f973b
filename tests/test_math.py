"""The core's own expf/logf (mt_math.c): within 1 ulp of the correctly rounded
result over the ranges the kernels use, IEEE special values, and Adam's
1 - beta^n without cancellation. Bits are the same on every target by
construction (IEEE +-*/ only); test_portable_core.py builds them for Cortex-M."""
import numpy as np
import pytest

from kernel_lib import lib  # noqa: F401  (fixture)


def _ulps(got, want):
    """Distance in units in the last place of float32."""
    got, want = np.float32(got), np.float32(want)
    if got == want:
        return 0
    return abs(int(got.view(np.int32)) - int(want.view(np.int32)))


def _sample(lo, hi, count=4000):
    return np.linspace(lo, hi, count, dtype=np.float32)


def test_expf_within_one_ulp(lib):  # noqa: F811
    worst = max(_ulps(lib.mt_expf(float(x)), np.exp(np.float64(x)))
                for x in np.concatenate([_sample(-87, 88.7), _sample(-1, 1), _sample(-103, -88)]))
    assert worst <= 1


def test_logf_within_one_ulp(lib):  # noqa: F811
    xs = np.concatenate([_sample(1e-3, 10), _sample(0.5, 2), np.float32(10) ** _sample(-37, 38),
                         np.array([1e-40, 1e-45], np.float32)])
    worst = max(_ulps(lib.mt_logf(float(x)), np.log(np.float64(x))) for x in xs)
    assert worst <= 1


def test_special_values(lib):  # noqa: F811
    assert lib.mt_expf(0.0) == 1.0 and lib.mt_logf(1.0) == 0.0
    assert lib.mt_expf(89.0) == np.inf and lib.mt_expf(-104.0) == 0.0
    assert lib.mt_expf(float("-inf")) == 0.0 and np.isnan(lib.mt_expf(float("nan")))
    assert lib.mt_logf(0.0) == -np.inf and lib.mt_logf(float("inf")) == np.inf
    assert np.isnan(lib.mt_logf(-1.0))


@pytest.mark.parametrize("beta", [0.9, 0.999, 0.5])
def test_one_minus_pow_is_accurate(lib, beta):  # noqa: F811
    b = np.float32(beta)
    for n in [1, 2, 3, 10, 1000, 123457, 2**31 + 5]:
        want = -np.expm1(n * np.log1p(np.float64(b) - 1))  # 1 - b^n in double, no cancellation
        assert _ulps(lib.mt_one_minus_powf(float(b), n), want) <= 4, n
