"""Golden tests: every C kernel against PyTorch (functional ops + autograd).

Gradients come from autograd with a random upstream gradient, so the
references are independent of our formulas. Tolerances: rtol 1e-5 and an
atol of ~1e-6 scaled by the magnitude of the reference (and, for long
reductions, by the square root of the reduction length).
"""
import ctypes

import numpy as np
import pytest
import torch
import torch.nn.functional as Fn

from kernel_lib import ConvShape, PoolShape, conv_scratch, lib, ptr  # noqa: F401  (fixture)

RELU, SIGMOID, TANH, SOFTMAX = 0, 1, 2, 3
INDEX, DENSE = 0, 1


def rng(seed):
    return np.random.default_rng(seed)


def randn(g, *shape, scale=1.0):
    return (g.standard_normal(shape) * scale).astype(np.float32)


def t(a, grad=False):
    return torch.from_numpy(np.array(a, copy=True)).requires_grad_(grad)


def close(got, ref, red=1, rtol=1e-5):
    """assert got ~ ref; `red` is the reduction length behind each value."""
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    got = np.asarray(got)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    mag = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    atol = 1e-6 * mag * max(1.0, np.sqrt(red) / 4)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- fully connected

FC_SHAPES = [(1, 3, 5), (8, 17, 10), (32, 64, 33), (5, 1, 1), (3, 100, 7), (2, 9, 4)]


@pytest.mark.parametrize("n,i,o", FC_SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_fc(lib, n, i, o, bias):
    g = rng(n * 1000 + i * 10 + o)
    x, w, b, dy = randn(g, n, i), randn(g, o, i), randn(g, o), randn(g, n, o)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    ty = Fn.linear(tx, tw, tb if bias else None)
    ty.backward(t(dy))

    y = np.empty((n, o), np.float32)
    lib.mt_fc_fwd(ptr(x), ptr(w), ptr(b) if bias else None, ptr(y), n, i, o)
    close(y, ty, red=i)

    dw = np.full((o, i), 7.0, np.float32)  # overwrite, not accumulate
    db = np.full(o, 7.0, np.float32)
    lib.mt_fc_grad(ptr(x), ptr(dy), ptr(dw), ptr(db) if bias else None, n, i, o)
    close(dw, tw.grad, red=n)
    if bias:
        close(db, tb.grad, red=n)

    dx = np.full((n, i), 7.0, np.float32)
    lib.mt_fc_deriv(ptr(dy), ptr(w), ptr(dx), n, i, o)
    close(dx, tx.grad, red=o)


def test_fc_blocking_invariant(lib):
    """An output's value must not depend on which block computed it."""
    g = rng(5)
    x, w = randn(g, 1, 37), randn(g, 7, 37)
    y7 = np.empty((1, 7), np.float32)
    y1 = np.empty((1, 1), np.float32)
    lib.mt_fc_fwd(ptr(x), ptr(w), None, ptr(y7), 1, 37, 7)
    for o in range(7):
        wr = np.ascontiguousarray(w[o:o + 1])
        lib.mt_fc_fwd(ptr(x), ptr(wr), None, ptr(y1), 1, 37, 1)
        assert y1[0, 0] == y7[0, o]


# ---------------------------------------------------------------- convolution

# n, c, h, w, oc, kh, kw, sh, sw, ph, pw, groups, pad_bottom, pad_right
CONV_CASES = [
    (2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),      # same padding, one block of 4
    (1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 1, 0, 0),      # valid, single channel
    (3, 5, 11, 10, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1),    # stride 2, 4 + 2 channels
    (2, 4, 8, 8, 8, 5, 3, 1, 2, 2, 0, 2, 1, 2),      # asymmetric pads, groups 2
    (2, 6, 9, 7, 6, 3, 3, 1, 1, 1, 1, 6, 1, 1),      # depthwise
    (2, 6, 9, 7, 12, 3, 3, 2, 2, 1, 1, 6, 0, 1),     # depthwise x2, stride 2
    (4, 8, 6, 6, 16, 1, 1, 1, 1, 0, 0, 1, 0, 0),     # pointwise (flattened planes)
    (2, 3, 4, 4, 5, 1, 1, 2, 2, 0, 0, 1, 0, 0),      # 1x1 stride 2
    (1, 2, 3, 3, 4, 5, 5, 1, 1, 2, 2, 1, 2, 2),      # kernel larger than input
    (2, 3, 10, 10, 9, 3, 3, 3, 3, 0, 0, 1, 0, -1),   # stride 3, unused last col
    (2, 16, 8, 8, 20, 3, 3, 1, 1, 1, 1, 4, 1, 1),    # groups 4 with 5 oc/group
    (8, 16, 12, 12, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1),  # larger reductions
    (1, 2, 1, 9, 3, 1, 4, 1, 3, 0, 2, 1, 0, 1),      # single-row images
]


def conv_ref(x, w, b, sh, sw, ph, pw, pb, pr, groups):
    xp = Fn.pad(x, (pw, pr, ph, pb))
    return Fn.conv2d(xp, w, b, stride=(sh, sw), groups=groups)


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv(lib, case, bias):
    n, c, h, w_, oc, kh, kw, sh, sw, ph, pw, G, pb, pr = case
    g = rng(sum(case))
    x = randn(g, n, c, h, w_)
    w = randn(g, oc, c // G, kh, kw)
    b = randn(g, oc)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    ty = conv_ref(tx, tw, tb if bias else None, sh, sw, ph, pw, pb, pr, G)
    oh, ow = ty.shape[2], ty.shape[3]
    dy = randn(g, n, oc, oh, ow)
    ty.backward(t(dy))
    s = ConvShape(n, c, h, w_, oc, kh, kw, sh, sw, ph, pw, oh, ow, G)
    red_fwd = (c // G) * kh * kw

    scratch = conv_scratch()
    y = np.empty((n, oc, oh, ow), np.float32)
    lib.mt_conv_fwd(ptr(s), ptr(x), ptr(w), ptr(b) if bias else None, ptr(y), ptr(scratch))
    close(y, ty, red=red_fwd)

    dw = np.full(w.shape, 3.0, np.float32)
    db = np.full(oc, 3.0, np.float32)
    lib.mt_conv_grad(ptr(s), ptr(x), ptr(dy), ptr(dw), ptr(db) if bias else None, ptr(scratch))
    close(dw, tw.grad, red=n * oh * ow)
    if bias:
        close(db, tb.grad, red=n * oh * ow)

    dx = np.full(x.shape, 3.0, np.float32)
    lib.mt_conv_deriv(ptr(s), ptr(dy), ptr(w), ptr(dx), ptr(scratch))
    close(dx, tx.grad, red=(oc // G) * kh * kw)


# ---------------------------------------------------------------- pooling

# n, c, h, w, kh, kw, sh, sw, ph, pw, pad_bottom, pad_right
POOL_CASES = [
    (2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0),
    (1, 2, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1),    # padding (symmetric)
    (2, 4, 5, 6, 3, 2, 1, 2, 1, 1, 1, 1),    # stride 1 x 2, padding
    (3, 2, 9, 9, 3, 3, 3, 3, 0, 0, 0, 0),
    (2, 3, 7, 7, 3, 3, 2, 2, 1, 0, 0, 2),    # asymmetric padding
    (2, 5, 6, 4, 6, 4, 6, 4, 0, 0, 0, 0),    # global (kernel == H, W)
]


def pool_shape(case, oh, ow):
    n, c, h, w, kh, kw, sh, sw, ph, pw, _, _ = case
    return PoolShape(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow)


def symmetric(case):
    ph, pw, pb, pr = case[8], case[9], case[10], case[11]
    return ph == pb and pw == pr


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool(lib, case):
    n, c, h, w, kh, kw, sh, sw, ph, pw, pb, pr = case
    g = rng(sum(case))
    x = randn(g, n, c, h, w)
    tx = t(x, True)
    if symmetric(case):
        ty, tidx = Fn.max_pool2d(tx, (kh, kw), (sh, sw), (ph, pw), return_indices=True)
    else:
        xp = Fn.pad(tx, (pw, pr, ph, pb), value=float("-inf"))
        ty = Fn.max_pool2d(xp, (kh, kw), (sh, sw))
        tidx = None
    oh, ow = ty.shape[2:]
    dy = randn(g, n, c, oh, ow)
    ty.backward(t(dy))
    s = pool_shape(case, oh, ow)

    y = np.empty((n, c, oh, ow), np.float32)
    idx = np.empty((n, c, oh, ow), np.int32)
    lib.mt_maxpool_fwd(ptr(s), ptr(x), ptr(y), ptr(idx))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    if tidx is not None:
        np.testing.assert_array_equal(idx, tidx.numpy())
    dx = np.full(x.shape, 5.0, np.float32)
    lib.mt_maxpool_deriv(ptr(s), ptr(dy), ptr(idx), ptr(dx))
    close(dx, tx.grad, red=kh * kw)


def test_maxpool_ties_first_wins(lib):
    """Integer-valued input with many ties: first max wins, as in PyTorch."""
    g = rng(1)
    x = g.integers(0, 3, size=(2, 2, 7, 7)).astype(np.float32)
    ty, tidx = Fn.max_pool2d(t(x), 3, 2, 1, return_indices=True)
    s = PoolShape(2, 2, 7, 7, 3, 3, 2, 2, 1, 1, ty.shape[2], ty.shape[3])
    y = np.empty(ty.shape, np.float32)
    idx = np.empty(ty.shape, np.int32)
    lib.mt_maxpool_fwd(ptr(s), ptr(x), ptr(y), ptr(idx))
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())


@pytest.mark.parametrize("case", POOL_CASES)
def test_avgpool(lib, case):
    n, c, h, w, kh, kw, sh, sw, ph, pw, pb, pr = case
    g = rng(sum(case) + 1)
    x = randn(g, n, c, h, w)
    tx = t(x, True)
    if symmetric(case):
        ty = Fn.avg_pool2d(tx, (kh, kw), (sh, sw), (ph, pw), count_include_pad=True)
    else:  # zero padding counted in the kh*kw divisor
        ty = Fn.avg_pool2d(Fn.pad(tx, (pw, pr, ph, pb)), (kh, kw), (sh, sw))
    oh, ow = ty.shape[2:]
    dy = randn(g, n, c, oh, ow)
    ty.backward(t(dy))
    s = pool_shape(case, oh, ow)
    y = np.empty((n, c, oh, ow), np.float32)
    lib.mt_avgpool_fwd(ptr(s), ptr(x), ptr(y))
    close(y, ty, red=kh * kw)
    if kh == h and kw == w:
        close(y[:, :, 0, 0], tx.mean(dim=(2, 3)), red=kh * kw)
    dx = np.full(x.shape, 5.0, np.float32)
    lib.mt_avgpool_deriv(ptr(s), ptr(dy), ptr(dx))
    close(dx, tx.grad, red=kh * kw)


# ---------------------------------------------------------------- activations

TORCH_ACT = {RELU: torch.relu, SIGMOID: torch.sigmoid, TANH: torch.tanh,
             SOFTMAX: lambda v: torch.softmax(v, dim=1)}


@pytest.mark.parametrize("act", [RELU, SIGMOID, TANH, SOFTMAX])
@pytest.mark.parametrize("rows,cols,scale", [(7, 13, 1.0), (1, 1, 1.0), (4, 1000, 3.0),
                                             (3, 10, 30.0), (5, 17, 0.01)])
def test_activation(lib, act, rows, cols, scale):
    g = rng(act * 100 + rows + cols)
    x = randn(g, rows, cols, scale=scale)
    tx = t(x, True)
    ty = TORCH_ACT[act](tx)
    dy = randn(g, rows, cols)
    ty.backward(t(dy))

    y = np.empty_like(x)
    lib.mt_act_fwd(act, ptr(x), ptr(y), rows, cols)
    close(y, ty, red=cols if act == SOFTMAX else 1)
    dx = np.empty_like(x)
    lib.mt_act_deriv(act, ptr(y), ptr(dy), ptr(dx), rows, cols)
    close(dx, tx.grad, red=cols if act == SOFTMAX else 1)

    # in place: y == x and dx == dy give bit-identical results
    yi = x.copy()
    lib.mt_act_fwd(act, ptr(yi), ptr(yi), rows, cols)
    np.testing.assert_array_equal(yi, y)
    di = dy.copy()
    lib.mt_act_deriv(act, ptr(y), ptr(di), ptr(di), rows, cols)
    np.testing.assert_array_equal(di, dx)


def test_activation_extremes(lib):
    x = np.array([[-1e4, -100, -88, -20, -1e-7, 0, 1e-7, 20, 88, 100, 1e4]], np.float32)
    for act in (SIGMOID, TANH, RELU):
        y = np.empty_like(x)
        lib.mt_act_fwd(act, ptr(x), ptr(y), 1, x.shape[1])
        assert np.all(np.isfinite(y))
        close(y, TORCH_ACT[act](t(x)))


# ---------------------------------------------------------------- batch norm

BN_SHAPES = [(4, 3, 5, 5), (2, 8, 3, 3), (16, 10), (1, 4, 7, 7), (32, 6, 2, 3), (3, 1)]


def bn_view(shape):
    n, c = shape[:2]
    return n, c, int(np.prod(shape[2:])) if len(shape) > 2 else 1


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_bn_train(lib, shape):
    n, c, hw = bn_view(shape)
    g = rng(n * c * hw)
    x = randn(g, *shape, scale=2.0) + 0.5
    gamma, beta = randn(g, c), randn(g, c)
    rm, rv = randn(g, c), np.abs(randn(g, c)) + 0.5
    dy = randn(g, *shape)
    tx, tg, tb = t(x, True), t(gamma, True), t(beta, True)
    trm, trv = t(rm), t(rv)
    ty = Fn.batch_norm(tx, trm, trv, tg, tb, training=True, momentum=0.1, eps=1e-5)
    ty.backward(t(dy))
    dims = [0] + list(range(2, len(shape)))
    ref_mean = t(x).mean(dim=dims)
    ref_invstd = 1.0 / torch.sqrt(t(x).var(dim=dims, unbiased=False) + 1e-5)

    y = np.empty_like(x)
    smean, sinv = np.empty(c, np.float32), np.empty(c, np.float32)
    lib.mt_bn_fwd_train(ptr(x), ptr(gamma), ptr(beta), ptr(rm), ptr(rv), ptr(y),
                        ptr(smean), ptr(sinv), n, c, hw, 0.1, 1e-5)
    red = n * hw
    close(y, ty, red=red)
    close(smean, ref_mean, red=red)
    close(sinv, ref_invstd, red=red)
    close(rm, trm, red=red)
    close(rv, trv, red=red)

    dgamma, dbeta = np.empty(c, np.float32), np.empty(c, np.float32)
    lib.mt_bn_grad(ptr(x), ptr(dy), ptr(smean), ptr(sinv), ptr(dgamma), ptr(dbeta), n, c, hw)
    close(dgamma, tg.grad, red=red)
    close(dbeta, tb.grad, red=red)
    dx = np.empty_like(x)
    lib.mt_bn_deriv(ptr(x), ptr(dy), ptr(gamma), ptr(smean), ptr(sinv), ptr(dx), n, c, hw)
    close(dx, tx.grad, red=red)
    di = dy.copy()  # dx may equal dy
    lib.mt_bn_deriv(ptr(x), ptr(di), ptr(gamma), ptr(smean), ptr(sinv), ptr(di), n, c, hw)
    np.testing.assert_array_equal(di, dx)


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_bn_eval(lib, shape):
    n, c, hw = bn_view(shape)
    g = rng(n + c + hw)
    x = randn(g, *shape)
    gamma, beta, rm = randn(g, c), randn(g, c), randn(g, c)
    rv = np.abs(randn(g, c)) + 0.1
    ty = Fn.batch_norm(t(x), t(rm), t(rv), t(gamma), t(beta), training=False, eps=1e-5)
    y = np.empty_like(x)
    lib.mt_bn_fwd_eval(ptr(x), ptr(gamma), ptr(beta), ptr(rm), ptr(rv), ptr(y),
                       n, c, hw, 1e-5)
    close(y, ty)


# ---------------------------------------------------------------- elementwise

def float_ptrs(arrays):
    return (ctypes.c_void_p * len(arrays))(*[a.ctypes.data for a in arrays])


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_add(lib, k):
    g = rng(k)
    xs = [randn(g, 1003) for _ in range(k)]
    ref = xs[0].copy()
    for a in xs[1:]:
        ref = ref + a  # float32, left to right
    y = np.empty(1003, np.float32)
    lib.mt_add(ptr(y), float_ptrs(xs), k, 1003)
    np.testing.assert_array_equal(y, ref)
    # in place into the first input
    x0 = xs[0].copy()
    arr = [x0] + xs[1:]
    lib.mt_add(ptr(x0), float_ptrs(arr), k, 1003)
    np.testing.assert_array_equal(x0, ref)
    if k >= 3:  # y aliasing a later input also works
        x2 = xs[2].copy()
        arr = xs[:2] + [x2] + xs[3:]
        lib.mt_add(ptr(x2), float_ptrs(arr), k, 1003)
        np.testing.assert_array_equal(x2, ref)


def test_copy_memmove(lib):
    a = np.arange(100, dtype=np.float32)
    b = np.empty(100, np.float32)
    lib.mt_copy(ptr(a), ptr(b), 100)
    np.testing.assert_array_equal(a, b)
    ref = a.copy()
    lib.mt_copy(a.ctypes.data, a.ctypes.data + 4 * 10, 50)  # overlapping forward
    np.testing.assert_array_equal(a[10:60], ref[0:50])


def xorshift_ref(state, count):
    out = np.empty(count, np.uint32)
    s = int(state)
    for i in range(count):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        out[i] = s
    return out, s


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_dropout(lib, rate):
    n = 100_000
    g = rng(3)
    x, dy = randn(g, n), randn(g, n)
    y, mask, dx = (np.empty(n, np.float32) for _ in range(3))
    state = np.array([2463534242], np.uint32)
    lib.mt_dropout_fwd(ptr(x), ptr(y), ptr(mask), ptr(state), n, rate)
    keep = np.float32(1.0) / (np.float32(1.0) - np.float32(rate))
    assert set(np.unique(mask)) <= {np.float32(0.0), keep}
    assert abs(float(np.mean(mask == 0)) - rate) < 0.01
    np.testing.assert_array_equal(y, x * mask)
    draws, final = xorshift_ref(2463534242, 1000)
    exp = np.where((draws >> 8).astype(np.float64) * 2.0 ** -24 < rate, 0.0, keep)
    np.testing.assert_array_equal(mask[:1000], exp.astype(np.float32))
    assert state[0] != 2463534242
    lib.mt_dropout_deriv(ptr(dy), ptr(mask), ptr(dx), n)
    np.testing.assert_array_equal(dx, dy * mask)
    if rate == 0.0:
        np.testing.assert_array_equal(y, x)
    # the state advances by exactly one draw per element
    s2 = np.array([2463534242], np.uint32)
    lib.mt_dropout_fwd(ptr(x), ptr(y), ptr(mask), ptr(s2), 1000, rate)
    assert int(s2[0]) == final


# ---------------------------------------------------------------- losses

def targets(g, kind, n, f):
    """(C target, torch float target) for the label kind."""
    if kind == INDEX:
        lab = g.integers(0, 2 if f == 1 else f, size=n).astype(np.int32)
        dense = lab[:, None].astype(np.float32) if f == 1 else np.eye(f, dtype=np.float32)[lab]
        return lab, dense
    if f == 1:
        d = g.random((n, 1)).astype(np.float32)
    else:
        d = g.random((n, f)).astype(np.float32)
        d /= d.sum(axis=1, keepdims=True)
    return d, d


def correct_ref(pred, dense, kind, lab):
    if pred.shape[1] == 1:
        return int(np.sum((pred[:, 0] > 0.5) == (dense[:, 0] > 0.5)))
    want = lab if kind == INDEX else dense.argmax(axis=1)
    return int(np.sum(pred.argmax(axis=1) == want))


LOSS_SHAPES = [(1, 1), (8, 1), (8, 10), (32, 3), (5, 7)]


@pytest.mark.parametrize("kind", [INDEX, DENSE])
@pytest.mark.parametrize("n,f", LOSS_SHAPES)
def test_mse(lib, kind, n, f):
    g = rng(n * f + kind)
    y = randn(g, n, f)
    tgt, dense = targets(g, kind, n, f)
    ty = t(y, True)
    loss = Fn.mse_loss(ty, t(dense))
    loss.backward()
    corr = np.zeros(1, np.float32)
    got = lib.mt_loss_mse_fwd(ptr(y), ptr(tgt), kind, n, f, ptr(corr))
    close(np.float32(got), loss, red=n * f)
    assert corr[0] == correct_ref(y, dense, kind, tgt)
    dy = np.empty_like(y)
    lib.mt_loss_mse_deriv(ptr(y), ptr(tgt), kind, n, f, ptr(dy))
    close(dy, ty.grad)


@pytest.mark.parametrize("kind", [INDEX, DENSE])
@pytest.mark.parametrize("n,f", [s for s in LOSS_SHAPES if s[1] > 1] + [(4, 1000)])
@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_ce_softmax(lib, kind, n, f, scale):
    g = rng(n * f + kind + int(scale))
    z = randn(g, n, f, scale=scale)
    tgt, dense = targets(g, kind, n, f)
    tz = t(z, True)
    ref_t = torch.from_numpy(tgt.astype(np.int64)) if kind == INDEX else t(dense)
    loss = Fn.cross_entropy(tz, ref_t)
    loss.backward()
    p = np.empty_like(z)
    corr = np.zeros(1, np.float32)
    got = lib.mt_loss_ce_softmax_fwd(ptr(z), ptr(tgt), kind, n, f, ptr(p), ptr(corr))
    close(np.float32(got), loss, red=n * f)
    close(p, torch.softmax(t(z), dim=1), red=f)
    assert corr[0] == correct_ref(z, dense, kind, tgt)
    dz = np.empty_like(z)
    lib.mt_loss_ce_softmax_deriv(ptr(p), ptr(tgt), kind, n, f, ptr(dz))
    close(dz, tz.grad, red=f)


@pytest.mark.parametrize("kind", [INDEX, DENSE])
@pytest.mark.parametrize("n,f", LOSS_SHAPES)
@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_ce_sigmoid(lib, kind, n, f, scale):
    g = rng(n * f + kind + int(scale) + 7)
    z = randn(g, n, f, scale=scale)
    tgt, dense = targets(g, kind, n, f)
    tz = t(z, True)
    loss = Fn.binary_cross_entropy_with_logits(tz, t(dense))
    loss.backward()
    p = np.empty_like(z)
    corr = np.zeros(1, np.float32)
    got = lib.mt_loss_ce_sigmoid_fwd(ptr(z), ptr(tgt), kind, n, f, ptr(p), ptr(corr))
    close(np.float32(got), loss, red=n * f)
    close(p, torch.sigmoid(t(z)))
    assert corr[0] == correct_ref(torch.sigmoid(t(z)).numpy(), dense, kind, tgt)
    dz = np.empty_like(z)
    lib.mt_loss_ce_sigmoid_deriv(ptr(p), ptr(tgt), kind, n, f, ptr(dz))
    close(dz, tz.grad)


def test_bce_small_logits_precise(lib):
    """log1p path: huge |z| with the matching target gives a tiny, exact loss."""
    z = np.array([[30.0, -30.0, 17.0]], np.float32)
    tg = np.array([[1.0, 0.0, 1.0]], np.float32)
    p = np.empty_like(z)
    got = lib.mt_loss_ce_sigmoid_fwd(ptr(z), ptr(tg), DENSE, 1, 3, ptr(p), None)
    ref = Fn.binary_cross_entropy_with_logits(t(z).double(), t(tg).double()).item()
    assert abs(got - ref) <= 1e-5 * ref


# ---------------------------------------------------------------- optimizers

@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd(lib, momentum):
    g = rng(11)
    w0 = randn(g, 257)
    tw = t(w0, True)
    opt = torch.optim.SGD([tw], lr=0.05, momentum=momentum)
    w = w0.copy()
    mom = np.zeros_like(w) if momentum else None
    for _ in range(5):
        dw = randn(g, 257)
        tw.grad = t(dw)
        opt.step()
        lib.mt_sgd_apply(ptr(w), ptr(dw), ptr(mom), 257, 0.05, momentum)
        close(w, tw)


@pytest.mark.parametrize("lr,b1,b2,eps", [(1e-3, 0.9, 0.999, 1e-8), (0.01, 0.5, 0.9, 1e-6)])
def test_adam(lib, lr, b1, b2, eps):
    # The C API takes float hyper-parameters; hand torch the same float values
    # (0.999 -> 0.99900001, which moves 1 - beta2 by 1.3e-5 relative).
    lr, b1, b2, eps = (float(np.float32(v)) for v in (lr, b1, b2, eps))
    g = rng(12)
    w0 = randn(g, 131)
    tw = t(w0, True)
    opt = torch.optim.Adam([tw], lr=lr, betas=(b1, b2), eps=eps, foreach=False)
    w = w0.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    step = np.zeros(1, np.uint32)
    for i in range(6):
        dw = randn(g, 131, scale=10.0 ** (i % 3 - 1))
        tw.grad = t(dw)
        opt.step()
        lib.mt_adam_apply(ptr(w), ptr(dw), ptr(m), ptr(v), ptr(step), 131, lr, b1, b2, eps)
        st = opt.state[tw]
        close(m, st["exp_avg"])
        close(v, st["exp_avg_sq"])
        close(w, tw)
        assert step[0] == i + 1
