"""The conv weight gradient's column blocking (12 with an FPU, 8 on Cortex-M3
to keep the frame small) changes no bit: every dw element sums its pixels in
ascending order whatever the block width."""
import ctypes

import numpy as np

from kernel_lib import ConvShape, build, conv_scratch, ptr


def _grad(lib, shape, x, dy):
    dw = np.zeros((shape.oc, shape.c // shape.groups, shape.kh, shape.kw), np.float32)
    db = np.zeros(shape.oc, np.float32)
    scratch = conv_scratch()
    lib.mt_conv_grad(ctypes.addressof(shape), ptr(x), ptr(dy), ptr(dw), ptr(db), ptr(scratch))
    return dw


def test_gradient_is_bit_identical_for_any_column_block(tmp_path):
    (tmp_path / "12").mkdir()
    (tmp_path / "8").mkdir()
    wide = build(tmp_path / "12", ["-DMT_CONV_GRAD_COLUMNS=12"])
    narrow = build(tmp_path / "8", ["-DMT_CONV_GRAD_COLUMNS=8"])
    rng = np.random.default_rng(3)
    for c, h, k, stride, pad, oc in [(3, 9, 3, 1, 1, 8), (5, 11, 2, 2, 0, 6), (8, 7, 3, 1, 0, 5),
                                     (1, 12, 3, 1, 1, 4), (16, 6, 1, 1, 0, 7)]:
        out = (h + 2 * pad - k) // stride + 1
        shape = ConvShape(2, c, h, h, oc, k, k, stride, stride, pad, pad, out, out, 1)
        x = rng.standard_normal((2, c, h, h)).astype(np.float32)
        dy = rng.standard_normal((2, oc, out, out)).astype(np.float32)
        assert np.array_equal(_grad(wide, shape, x, dy).view(np.uint32),
                              _grad(narrow, shape, x, dy).view(np.uint32))
