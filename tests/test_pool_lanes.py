"""Max pooling runs unclipped windows 8 or 4 outputs at a time (lane-wise
selects) and clipped ones one by one: every output and argmax must equal a
plain per-window reference with PyTorch's CPU rules (first maximum wins, any
NaN wins and the last NaN is kept, -inf input still yields its index, an
all-padding window yields 0 and index -1), whatever the row width."""
import math

import numpy as np
import pytest

from kernel_lib import PoolShape, lib, ptr  # noqa: F401  (fixture)


def reference(x, kh, kw, sh, sw, ph, pw, oh, ow):
    n, c, h, w = x.shape
    y = np.zeros((n, c, oh, ow), np.float32)
    idx = np.full((n, c, oh, ow), -1, np.int32)
    for p in range(n * c):
        plane = x.reshape(n * c, h, w)[p]
        for oy in range(oh):
            for ox in range(ow):
                best, at = -math.inf, -1
                rows = range(max(oy * sh - ph, 0), min(oy * sh - ph + kh, h))
                cols = range(max(ox * sw - pw, 0), min(ox * sw - pw + kw, w))
                if len(rows) and len(cols):
                    at = rows[0] * w + cols[0]
                for iy in rows:
                    for ix in cols:
                        v = plane[iy, ix]
                        if v > best or v != v:
                            best, at = v, iy * w + ix
                y.reshape(n * c, oh, ow)[p, oy, ox] = 0.0 if at < 0 else best
                idx.reshape(n * c, oh, ow)[p, oy, ox] = at
    return y, idx


# h, w, k, stride, pad: widths with 8- and 4-output blocks, strides 1..3, padding
SHAPES = [(28, 28, 2, 2, 0), (10, 10, 2, 2, 0), (9, 41, 3, 2, 1), (6, 37, 2, 1, 0),
          (7, 50, 3, 3, 1), (5, 19, 3, 2, 0), (4, 8, 2, 2, 1),
          # 2x2 stride 2: rows of 4k outputs, rows whose last block overlaps, odd
          # widths and heights (last column / row unused), rows of 3 outputs, rows of 2
          # (two at a time, across planes, an odd last row alone)
          (28, 16, 2, 2, 0), (14, 14, 2, 2, 0), (7, 11, 2, 2, 0), (9, 30, 2, 2, 0),
          (4, 4, 2, 2, 0), (5, 7, 2, 2, 0), (3, 4, 2, 2, 0), (4, 5, 2, 2, 0)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("values", ["normal", "ties", "specials"])
def test_maxpool_lanes_match_the_per_window_rules(lib, shape, values):
    h, w, k, stride, pad = shape
    g = np.random.default_rng(h * w + k)
    if values == "ties":
        x = g.integers(0, 3, size=(2, 3, h, w)).astype(np.float32)
    else:
        x = g.standard_normal((2, 3, h, w)).astype(np.float32)
    if values == "specials":
        flat = x.reshape(-1)
        spots = g.choice(flat.size, size=flat.size // 6, replace=False)
        flat[spots[0::3]] = np.nan
        flat[spots[1::3]] = -np.inf
        flat[spots[2::3]] = np.inf
        x[0, 0] = -np.inf   # a whole plane of -inf: the first index of each window
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    s = PoolShape(2, 3, h, w, k, k, stride, stride, pad, pad, oh, ow)
    y = np.empty((2, 3, oh, ow), np.float32)
    idx = np.empty((2, 3, oh, ow), np.int32)
    lib.mt_maxpool_fwd(ptr(s), ptr(x), ptr(y), ptr(idx))
    want_y, want_idx = reference(x, k, k, stride, stride, pad, pad, oh, ow)
    assert np.array_equal(y.view(np.uint32), want_y.view(np.uint32))
    assert np.array_equal(idx, want_idx)


@pytest.mark.parametrize("n, c, h", [(1, 3, 2), (1, 1, 6), (3, 1, 3)])
def test_maxpool_2x2_rows_of_two_outputs_with_an_odd_row_count(lib, n, c, h):
    g = np.random.default_rng(n * 100 + c * 10 + h)
    x = g.integers(0, 3, size=(n, c, h, 4)).astype(np.float32)
    oh = h // 2
    s = PoolShape(n, c, h, 4, 2, 2, 2, 2, 0, 0, oh, 2)
    y = np.empty((n, c, oh, 2), np.float32)
    idx = np.empty((n, c, oh, 2), np.int32)
    lib.mt_maxpool_fwd(ptr(s), ptr(x), ptr(y), ptr(idx))
    want_y, want_idx = reference(x, 2, 2, 2, 2, 0, 0, oh, 2)
    assert np.array_equal(y.view(np.uint32), want_y.view(np.uint32))
    assert np.array_equal(idx, want_idx)
