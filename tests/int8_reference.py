"""Independent reference of the integer training arithmetic in docs/int8.md.

Written from the maths on that page, not from the C: every value is a Python
integer (numpy object arrays), divisions are Python's floor division `//`, so
nothing here depends on shift semantics, word sizes or overflow. Tables are
rebuilt from their defining formulas. Gradients are returned as (exponent,
int16 values)."""
import math

import numpy as np

ACC_MAX = 2 ** 47 - 1
LIM62 = 2 ** 62
EXP_MAX = 2 ** 30
Q30 = 2 ** 30
INT_RANGE = {1: (-128, 127), 2: (-32768, 32767), 4: (-2 ** 31, 2 ** 31 - 1)}
WEIGHT_RANGE = {1: (-127, 127), 2: (-32767, 32767), 4: (-2 ** 31, 2 ** 31 - 1)}
DTYPES = {1: np.int8, 2: np.int16, 4: np.int32}


def ints(a):
    """A numpy array of Python ints (exact arithmetic)."""
    return np.asarray(a).astype(np.int64).astype(object)


def clamp(x, lo, hi):
    return min(max(x, lo), hi)


def sat(x, e):
    lo, hi = INT_RANGE[e]
    return clamp(x, lo, hi)


def round_shift(x, k):
    """Round half up of x / 2^k; x * 2^-k clamped to +-2^62 for k < 0; k clamped to [-62, 62]."""
    k = clamp(k, -62, 62)
    if k >= 0:
        return x if k == 0 else (2 * x + 2 ** k) // 2 ** (k + 1)
    return clamp(x * 2 ** (-k), -LIM62, LIM62)


def requant(acc, m, sh):
    return round_shift(clamp(acc, -ACC_MAX, ACC_MAX) * clamp(m, 0, 2 ** 15 - 1), sh)


def div_round(a, d):
    """Round half up of a / d, d > 0."""
    return (2 * a + d) // (2 * d)


def multiplier(m):
    """(M, sh) with m ~= M 2^-sh, M in [2^14, 2^15): the host's encoding of a real multiplier."""
    f, e = math.frexp(m)
    big = round(f * 2 ** 15)
    if big == 2 ** 15:
        big, e = 2 ** 14, e + 1
    sh = 15 - e
    assert -62 <= sh <= 62, m
    return big, sh


def to_g16(sums, e_sums):
    """Exact sums with exponent e_sums -> (exponent, int16 values)."""
    flat = [int(v) for v in np.ravel(sums)]
    biggest = max((abs(v) for v in flat), default=0)
    s = max(0, biggest.bit_length() - 15)
    vals = np.array([sat(round_shift(v, s), 2) for v in flat], np.int16).reshape(np.shape(sums))
    return clamp(e_sums + s, -EXP_MAX, EXP_MAX), vals


def g16_value(exp, vals):
    """Real value of a g16 tensor (float64, for sanity checks only)."""
    return np.asarray(vals, np.float64) * 2.0 ** exp


# ---------------------------------------------------------------- fully connected

def fc_fwd(x, w, b, rq, zx, zy, e):
    """y[s,o] = sat(zy + requant(sum_i (x - zx) w + b[o], M[o], sh[o]))."""
    out = w.shape[0]
    acc = (ints(x) - zx).dot(ints(w).T)
    if b is not None:
        acc = acc + ints(b)[None, :]
    m, sh = [int(v) for v in rq[:out]], [int(v) for v in rq[out:]]
    y = [[sat(zy + requant(acc[s, o], m[o], sh[o]), e) for o in range(out)]
         for s in range(acc.shape[0])]
    return np.array(y, DTYPES[e]).reshape(acc.shape)


def fc_grad(x, dy, zx):
    """dW sums a[o,i] = sum_s dy[s,o] (x[s,i] - zx) and dB sums, both as g16."""
    e_dy, g = dy
    a = ints(g).T.dot(ints(x) - zx)
    return to_g16(a, e_dy), to_g16(ints(g).sum(axis=0), e_dy)


def fc_deriv(dy, w, ws, ws_exp):
    """dX sums a[s,i] = sum_o dy[s,o] m_w[o] w[o,i], exponent e_dy - ws_exp."""
    e_dy, g = dy
    m = np.array([clamp(int(v), 0, 2 ** 15 - 1) for v in ws], object)
    a = (ints(g) * m[None, :]).dot(ints(w))
    return to_g16(a, e_dy - ws_exp)


# ---------------------------------------------------------------- activations

def relu_fwd(x, z):
    return np.maximum(x, np.array(z, x.dtype))


def relu_deriv(y, dy, z):
    e_dy, g = dy
    return e_dy, np.where(y > z, g, 0).astype(np.int16)


def narrow(x, e):
    lo, hi = INT_RANGE[e]
    return np.clip(np.asarray(x, np.int64), lo, hi).astype(DTYPES[e])


# ---------------------------------------------------------------- softmax cross entropy

EXP2_TABLE = [round(2.0 ** (30 - i / 64)) for i in range(65)]
LOG2_TABLE = [round(2.0 ** 16 * math.log2(1 + i / 64)) for i in range(65)]
LOG2E_Q16 = round(math.log2(math.e) * 2 ** 16)
LN2_Q16 = round(math.log(2) * 2 ** 16)


def exp2_q30(u):
    """2^(-u / 2^16) in Q30 by table and linear interpolation."""
    k, frac = divmod(u, 2 ** 16)
    if k >= 31:
        return 0
    i, f = divmod(frac, 2 ** 10)
    hi, lo = EXP2_TABLE[i], EXP2_TABLE[i + 1]
    v = hi - ((hi - lo) * f + 512) // 2 ** 10
    return v // 2 ** k


def log2_q16(p):
    """log2(p / 2^30) in Q16 for p in [1, 2^30]."""
    b = p.bit_length() - 1
    m = p * 2 ** (30 - b) - Q30
    i, f = m // 2 ** 24, (m // 2 ** 14) % 2 ** 10
    lo, hi = LOG2_TABLE[i], LOG2_TABLE[i + 1]
    return (b - 30) * 2 ** 16 + lo + ((hi - lo) * f + 512) // 2 ** 10


def softmax_row(z, mz, shz):
    """Q30 probabilities of one row of integer logits."""
    top = max(int(v) for v in z)
    e = []
    for v in z:
        t = min(requant(top - int(v), mz, shz), 2 ** 21)
        e.append(exp2_q30((t * LOG2E_Q16) // 2 ** 16))
    total = sum(e)
    return [div_round(ej * Q30, total) for ej in e]


def ce_fwd(z, labels, mz, shz):
    """(P int32 Q30, mean loss as float32, correct count as float32)."""
    n, f = z.shape
    p = np.zeros((n, f), np.int32)
    total = correct = 0
    for r in range(n):
        p[r] = softmax_row(z[r], mz, shz)
        c = int(labels[r])
        if not 0 <= c < f:
            continue
        pc = max(int(p[r, c]), 1)
        total += (-log2_q16(pc) * LN2_Q16 + 2 ** 15) // 2 ** 16
        correct += int(np.argmax(z[r])) == c   # numpy's argmax is the first maximum
    return p, np.float32(div_round(total, n) / 2 ** 16), np.float32(correct)


def ce_deriv(p, labels):
    n, f = p.shape
    c2 = n.bit_length() - 1
    out = np.zeros((n, f), np.int16)
    for r in range(n):
        c = int(labels[r])
        for j in range(f):
            d = 0 if not 0 <= c < f else int(p[r, j]) - (Q30 if j == c else 0)
            out[r, j] = sat(div_round(d * 2 ** c2, n * 2 ** 15), 2)
    return -15 - c2, out


# ---------------------------------------------------------------- optimizer

def xorshift32(state):
    x = state
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    return x


def apply_step(q, step, e, rng):
    """The weight after a step: int8/int16 steps are Q16, rounded stochastically
    with one draw; int32 bias steps (e = 4) are whole units, no draw."""
    if e == 4:
        return q - step, rng
    rng = xorshift32(rng)
    return q - (step + rng // 2 ** 16) // 2 ** 16, rng


def sgd(w, dw, lr, rng, mom, mu, e, ch):
    """One integer SGD step. mom is the m16 momentum (exponent em, int16 values;
    value vals * 2^em in Q16 units of q) or None. Returns (new weights, new rng
    state, new momentum or None)."""
    e_dw, g = dw
    g = [int(x) for x in np.ravel(g)]
    numel = w.size
    rows = numel // ch
    lo, hi = WEIGHT_RANGE[e]
    em = None if mom is None else clamp(int(mom[0]), 0, 16)
    old = None if mom is None else [int(x) for x in np.ravel(mom[1])]
    v = []
    for i in range(numel):
        c = i // rows
        delta = requant(g[i], int(lr[c]), int(lr[ch + c]) - e_dw)
        v.append(sat(delta if mom is None else round_shift(mu * old[i] * 2 ** em, 15) + delta, 4))
    w_new = ints(w.ravel())
    for i in range(numel):
        q, rng = apply_step(int(w_new[i]), v[i], e, rng)
        w_new[i] = clamp(q, lo, hi)
    w_out = np.array(list(w_new), DTYPES[e]).reshape(w.shape)
    if mom is None:
        return w_out, rng, None
    # the state keeps v in 16 bits: one exponent for the tensor, from the largest |v|
    shift = max(0, max(abs(x) for x in v).bit_length() - 15)
    vals = np.array([sat(round_shift(x, shift), 2) for x in v], np.int16).reshape(np.shape(mom[1]))
    return w_out, rng, (shift, vals)


def sgd_multipliers(lr, scales, factor, qas=True, e=1):
    """LR tensor (M[C] then sh[C]) for step lr: Q16 steps of q per unit of g16 value
    (whole steps for int32 biases, e = 4).
    QAS: lr * factor / s_w; without: lr * factor * s_w (plain int8 SGD)."""
    frac = 1 if e == 4 else 2 ** 16
    pairs = [multiplier(lr * factor * (1.0 / s if qas else s) * frac) for s in scales]
    return np.array([m for m, _ in pairs] + [s for _, s in pairs], np.int32)


# ---------------------------------------------------------------- float edges

def quantize(x, inv_scale, z, e):
    """sat(round_half_away(float32(x * inv_scale)) + z)."""
    v = np.asarray(x, np.float32) * np.float32(inv_scale)
    out = []
    for a in v.ravel():
        a = float(a)
        if math.isnan(a):
            q = 0
        else:
            a = clamp(a, -1e9, 1e9)
            q = int(math.copysign(math.floor(abs(a) + 0.5), a))
        out.append(sat(q + z, e))
    return np.array(out, DTYPES[e]).reshape(np.shape(x))


def dequantize(q, scale, z):
    return (np.asarray(q, np.int64) - z).astype(np.float32) * np.float32(scale)


# ---------------------------------------------------------------- convolution and pooling

def taps(x, z, kh, kw, stride, pad, out_hw):
    """(N, C, OH, OW, KH, KW) windows of (x - z) as int64, 0 where a tap is outside x."""
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (oh, ow) = stride, pad, out_hw
    out = np.zeros((n, c, oh, ow, kh, kw), np.int64)
    xs = np.asarray(x, np.int64) - z
    for i in range(kh):
        for j in range(kw):
            for a in range(oh):
                ih = a * sh - ph + i
                if not 0 <= ih < h:
                    continue
                for b in range(ow):
                    iw = b * sw - pw + j
                    if 0 <= iw < w:
                        out[:, :, a, b, i, j] = xs[:, :, ih, iw]
    return out


def conv_sums(x, w, zx, stride, pad, out_hw, groups):
    """a[n,oc,oh,ow] = sum over the group's channels and taps of (x - zx) w."""
    oc, cg, kh, kw = w.shape
    p = taps(x, zx, kh, kw, stride, pad, out_hw)
    ocg = oc // groups
    parts = [np.einsum("ncabij,ocij->noab", p[:, g * cg:(g + 1) * cg],
                       np.asarray(w[g * ocg:(g + 1) * ocg], np.int64)) for g in range(groups)]
    return np.concatenate(parts, axis=1)


def conv_fwd(x, w, b, rq, zx, zy, e, stride, pad, out_hw, groups):
    acc = conv_sums(x, w, zx, stride, pad, out_hw, groups)
    oc = w.shape[0]
    if b is not None:
        acc = acc + np.asarray(b, np.int64)[None, :, None, None]
    y = np.empty(acc.shape, DTYPES[e])
    for o in range(oc):
        m, sh = int(rq[o]), int(rq[oc + o])
        y[:, o] = np.array([sat(zy + requant(int(v), m, sh), e) for v in acc[:, o].ravel()]
                           ).reshape(y[:, o].shape)
    return y


def conv_grad(x, dy, zx, w_shape, stride, pad, out_hw, groups):
    e_dy, g = dy
    oc, cg, kh, kw = w_shape
    p = taps(x, zx, kh, kw, stride, pad, out_hw)
    ocg = oc // groups
    a = np.concatenate([np.einsum("noab,ncabij->ocij", np.asarray(g[:, k * ocg:(k + 1) * ocg], np.int64),
                                  p[:, k * cg:(k + 1) * cg]) for k in range(groups)])
    return to_g16(a, e_dy), to_g16(np.asarray(g, np.int64).sum(axis=(0, 2, 3)), e_dy)


def conv_deriv(dy, w, ws, ws_exp, x_shape, stride, pad, groups):
    """dX sums: every tap (n, oc, oh, ow, kh, kw) adds dy m_w w to the input it read."""
    e_dy, g = dy
    n, c, h, wd = x_shape
    oc, cg, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, pad
    m = np.clip(np.asarray(ws, np.int64), 0, 2 ** 15 - 1)
    a = np.zeros(x_shape, np.int64)
    gd = np.asarray(g, np.int64) * m[None, :, None, None]
    ocg = oc // groups
    for o in range(oc):
        grp = o // ocg
        for ci in range(cg):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(g.shape[2]):
                        ih = oh * sh - ph + i
                        if not 0 <= ih < h:
                            continue
                        for ow in range(g.shape[3]):
                            iw = ow * sw - pw + j
                            if 0 <= iw < wd:
                                a[:, grp * cg + ci, ih, iw] += gd[:, o, oh, ow] * int(w[o, ci, i, j])
    return to_g16(a, e_dy - ws_exp)


def pool_windows(shape, k, stride, pad, out_hw):
    """[(oh, ow, [(ih, iw) valid taps in row-major order])]."""
    _, _, h, w = shape
    out = []
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            cells = [(oh * stride[0] - pad[0] + i, ow * stride[1] - pad[1] + j)
                     for i in range(k[0]) for j in range(k[1])]
            out.append((oh, ow, [(a, b) for a, b in cells if 0 <= a < h and 0 <= b < w]))
    return out


def maxpool_fwd(x, k, stride, pad, out_hw):
    n, c, h, w = x.shape
    y = np.zeros((n, c) + tuple(out_hw), x.dtype)
    idx = np.zeros((n, c) + tuple(out_hw), np.int32)
    for oh, ow, cells in pool_windows(x.shape, k, stride, pad, out_hw):
        vals = np.stack([x[:, :, a, b] for a, b in cells], axis=-1)
        first = np.argmax(vals, axis=-1)            # first maximum
        y[:, :, oh, ow] = np.take_along_axis(vals, first[..., None], -1)[..., 0]
        flat = np.array([a * w + b for a, b in cells])
        idx[:, :, oh, ow] = flat[first]
    return y, idx


def avgpool_fwd(x, z, e, k, stride, pad, out_hw):
    n, c = x.shape[:2]
    y = np.zeros((n, c) + tuple(out_hw), DTYPES[e])
    for oh, ow, cells in pool_windows(x.shape, k, stride, pad, out_hw):
        total = sum(np.asarray(x[:, :, a, b], np.int64) - z for a, b in cells)
        for i in range(n):
            for j in range(c):
                y[i, j, oh, ow] = sat(z + div_round(int(total[i, j]), k[0] * k[1]), e)
    return y


def maxpool_deriv(dy, idx, x_shape):
    e_dy, g = dy
    n, c, h, w = x_shape
    a = np.zeros((n, c, h * w), np.int64)
    for i in range(n):
        for j in range(c):
            np.add.at(a[i, j], idx[i, j].ravel(), np.asarray(g[i, j], np.int64).ravel())
    return to_g16(a.reshape(x_shape), e_dy)


def avgpool_deriv(dy, x_shape, k, stride, pad, out_hw):
    e_dy, g = dy
    a = np.zeros(x_shape, np.int64)
    for oh, ow, cells in pool_windows(x_shape, k, stride, pad, out_hw):
        for ih, iw in cells:
            a[:, :, ih, iw] += np.asarray(g[:, :, oh, ow], np.int64)
    kk = k[0] * k[1]
    c2 = kk.bit_length() - 1
    scaled = np.vectorize(lambda v: div_round(int(v) * 2 ** c2, kk), otypes=[object])(a)
    return to_g16(scaled, e_dy - c2)


# ---------------------------------------------------------------- Adam

A16_BASE_MAX = 2 ** 30


def a16_decode(word, base):
    """a16 word: offset = low 5 bits, mant = the rest (signed); value mant 2^(base + offset)."""
    word = int(word)
    off = word % 32
    return (word - off) // 32, base + off


def moment_sum(t1, x1, t2, x2):
    """t1 2^x1 + t2 2^x2 aligned to the larger top bit minus 61: (a, x), value a 2^x."""
    terms = [(t, x) for t, x in ((t1, x1), (t2, x2)) if t != 0]
    if not terms:
        return 0, 0
    c = max(x + abs(t).bit_length() for t, x in terms) - 61
    return sum(round_shift(t, c - x) for t, x in terms), c


def a16_encode(a, x, base):
    """The nearest a16 word under base: 10 significant bits, round half up."""
    if a == 0:
        return 0
    sh = abs(a).bit_length() - 10
    mant = round_shift(a, sh)
    if abs(mant) == 2 ** 10:
        mant, sh = mant // 2, sh + 1
    off = x + sh - base
    if off > 31:
        mant, off = (2 ** 10 - 1) * (1 if mant > 0 else -1), 31
    elif off < 0:
        mant, off = round_shift(mant, -off), 0
        if mant == 0:
            return 0
    return mant * 32 + off


def a16_base(sums, old):
    """The largest value's top bit lands in offset 31 (10 mantissa bits below it)."""
    tops = [x + abs(a).bit_length() for a, x in sums if a != 0]
    return old if not tops else clamp(max(tops) - 41, -A16_BASE_MAX, A16_BASE_MAX)


def a16_value(base, word):
    mant, exp = a16_decode(word, base)
    return mant * 2.0 ** exp


def adam(w, dw, lr, state, m, v, step, p, e, ch):
    """One integer Adam step (docs/int8.md); m and v are a16 (base, int16 words).
    Returns (w, rng, m, v, step)."""
    _, _, _, b1, b2, eps_m, eps_sh = (int(x) for x in p)
    e_g, g = dw
    g = [int(x) for x in np.ravel(g)]
    t, p1, p2 = (int(x) for x in step)
    p1, p2 = clamp(p1, 0, Q30), clamp(p2, 0, Q30)
    t = min(t + 1, 2 ** 31 - 1)
    p1, p2 = round_shift(p1 * b1, 30), round_shift(p2 * b2, 30)
    c1, c2 = Q30 - p1, Q30 - p2
    sq2 = math.isqrt(c2 * Q30)
    numel = w.size
    rows = numel // ch
    lo, hi = WEIGHT_RANGE[e]
    bm, bv = (clamp(int(x[0]), -A16_BASE_MAX, A16_BASE_MAX) for x in (m, v))
    m_sums, v_sums = [], []
    for i in range(numel):
        mm, me = a16_decode(m[1].ravel()[i], bm)
        vm, ve = a16_decode(v[1].ravel()[i], bv)
        m_sums.append(moment_sum(b1 * mm, me - 30, (Q30 - b1) * g[i], e_g - 30))
        v_sums.append(moment_sum(b2 * max(vm, 0), ve - 30, (Q30 - b2) * g[i] * g[i], 2 * e_g - 30))
    bm, bv = a16_base(m_sums, bm), a16_base(v_sums, bv)
    m_words = [a16_encode(a, x, bm) for a, x in m_sums]
    v_words = [a16_encode(a, x, bv) for a, x in v_sums]
    w_new = ints(w.ravel())
    for i in range(numel):
        c = i // rows
        mm, me = a16_decode(m_words[i], bm)
        vm, ve = a16_decode(v_words[i], bv)
        vm = max(vm, 0)
        if ve % 2:
            vm, ve = vm * 2, ve - 1
        es = (ve - 30) // 2
        d = div_round(math.isqrt(vm * Q30) * Q30, sq2) + min(round_shift(eps_m, eps_sh + es), 2 ** 60)
        r = 0 if d <= 0 else round_shift(div_round(mm * Q30, d), 14 - me + es)
        stp = sat(requant(div_round(sat(r, 4) * Q30, c1), int(lr[c]), int(lr[ch + c])), 4)
        q, state = apply_step(int(w_new[i]), stp, e, state)
        w_new[i] = clamp(q, lo, hi)
    shape = np.shape(m[1])
    return (np.array(list(w_new), DTYPES[e]).reshape(w.shape), state,
            (bm, np.array(m_words, np.int16).reshape(shape)),
            (bv, np.array(v_words, np.int16).reshape(shape)),
            np.array([t, p1, p2], np.int32))


def adam_params(numel, e, ch, beta1=0.9, beta2=0.999, eps=1e-8):
    eps_m, eps_sh = multiplier(eps)
    return [numel, e, ch, round(beta1 * Q30), round(beta2 * Q30), eps_m, eps_sh]


def adam_multipliers(lr, scales, qas=True, e=1):
    """The ratio is Q16: Q16 weight steps as it is, whole bias steps (e = 4) / 2^16."""
    frac = 2.0 ** -16 if e == 4 else 1.0
    pairs = [multiplier((lr / s if qas else lr) * frac) for s in scales]
    return np.array([m for m, _ in pairs] + [s for _, s in pairs], np.int32)


# ---------------------------------------------------------------- residual addition

def add_fwd(a, b, za, zb, zy, rqa, rqb, e):
    """y = sat(zy + requant(a - za, s_a / s_y) + requant(b - zb, s_b / s_y))."""
    out = [sat(zy + requant(int(x) - za, *rqa) + requant(int(w) - zb, *rqb), e)
           for x, w in zip(np.ravel(a), np.ravel(b))]
    return np.array(out, DTYPES[e]).reshape(np.shape(a))


def g16_add(a, b):
    """The sum of two g16 tensors, exact at exponent max(ea, eb) - 46, then g16."""
    (ea, ga), (eb, gb) = a, b
    c = max(ea, eb) - 46
    sums = np.array([round_shift(int(x), c - ea) + round_shift(int(w), c - eb)
                     for x, w in zip(np.ravel(ga), np.ravel(gb))], object).reshape(np.shape(ga))
    return to_g16(sums, c)
