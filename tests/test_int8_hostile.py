"""Validated means safe for the integer ops: every integer op kind runs over
arenas of hostile bytes (random, all-0x7F, all-0x80, all-0xFF: exponents, shifts,
multipliers, labels, IDX and float inputs at their extremes) in a core built with
ASan + UBSan, so no shift, overflow or out-of-bounds access is undefined."""
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from int8_program import APPLY, DERIV, FWD, GRAD, Program, g16_bytes

HERE = Path(__file__).parent
SRC = HERE.parent / "core_cy" / "src"
SANITIZERS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    binary = tmp_path_factory.mktemp("hostile") / "run_program"
    built = subprocess.run(["gcc", "-std=c99", "-O1", "-g", "-ffp-contract=off", *SANITIZERS, "-I", str(SRC),
                            str(HERE / "int8_hostile" / "run_program.c"), *map(str, sorted(SRC.glob("*.c"))),
                            "-lm", "-o", str(binary)], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail("gcc with ASan/UBSan failed (apt-get install gcc libasan8 libubsan1): "
                    + built.stderr.strip().splitlines()[-1], pytrace=False)
    return binary


def fc(e):
    p = Program()
    for name, nbytes in [("X", 6 * 9 * e), ("W", 5 * 9 * e), ("B", 20), ("Y", 6 * 5 * e), ("RQ", 40),
                         ("WS", 20), ("dY", g16_bytes(30)), ("dW", g16_bytes(45)), ("dB", g16_bytes(5)),
                         ("dX", g16_bytes(54))]:
        p.tensor(name, nbytes)
    p.op("QFC_FWD", FWD, ["X", "W", "B", "Y", "RQ"], [6, 9, 5, e, -3, 4])
    p.op("QFC_GRAD", GRAD, ["X", "dY", "dW", "dB"], [6, 9, 5, e, -3])
    p.op("QFC_DERIV", DERIV, ["dY", "W", "WS", "dX"], [6, 9, 5, e, 17])
    return fused(p, e)


def fused(p, e):
    """The fused gradient + step ops over fc's X, dY, W (GE and STEP[3] hostile too)."""
    for name, nbytes in [("LR", 40), ("RNG", 4), ("MOM", g16_bytes(45)), ("GE", 4), ("M", g16_bytes(45)),
                         ("V", g16_bytes(45)), ("STEP", 16)]:
        p.tensor(name, nbytes)
    p.op("QFC_BIAS_GRAD", GRAD, ["dY", "dB"], [6, 5])
    p.op("QFC_GRAD_QSGD", APPLY, ["X", "dY", "W", "LR", "RNG", "MOM", "GE"], [6, 9, 5, e, -3, 32767])
    p.op("QFC_GRAD_QSGD", APPLY, ["X", "dY", "W", "LR", "RNG", None, "GE"], [6, 9, 5, e, 3, 0])
    p.op("QFC_GRAD_QADAM", APPLY, ["X", "dY", "W", "LR", "M", "V", "STEP", "RNG"],
         [6, 9, 5, e, -3, 0, 2 ** 30 - 1, 32767, -62])
    return p.op("QFC_GRAD_QADAM", APPLY, ["X", "dY", "W", "LR", "M", "V", "STEP", "RNG"],
                [6, 9, 5, e, 0, 966367642, 1072668082, 1, 62])


def act_loss(e):
    p = Program()
    for name, nbytes in [("X32", 4 * 24), ("X", 24 * e), ("dY", g16_bytes(24)), ("T", 16),
                         ("P", 4 * 24), ("dZ", g16_bytes(24)), ("F", 4 * 24), ("Q", 24 * e)]:
        p.tensor(name, nbytes)
    p.op("QNARROW", FWD, ["X32", "X"], [24, e])
    p.op("QRELU_FWD", FWD, ["X", "X"], [24, e, 3])
    p.op("QRELU_DERIV", DERIV, ["X", "dY", "dY"], [24, e, 3])
    p.op("QADD_FWD", FWD, ["X", "Q", "X"], [24, e, 5, -7, 1, 32767, -62, 1, 62])
    p.op("QG16_ADD", DERIV, ["dY", "dZ", "dY"], [24])
    p.op("QCE_SOFTMAX_FWD", FWD, ["X", "T", "P", "METRICS"], [4, 6, e, 32767, -62])
    p.op("QCE_SOFTMAX_FWD", FWD, ["X", "T", "P", "METRICS"], [4, 6, e, 1, 62])
    p.op("QCE_SOFTMAX_DERIV", DERIV, ["P", "T", "dZ"], [4, 6])
    p.op("QUANTIZE", FWD, ["F", "Q"], [24, e, 5], [1e30])
    return p.op("DEQUANTIZE", FWD, ["Q", "F"], [24, e, 5], [3.0])


def sgd(e):
    p = Program()
    for name, nbytes in [("W", 12 * e), ("dW", g16_bytes(12)), ("LR", 8 * 3), ("RNG", 4), ("MOM", 48)]:
        p.tensor(name, nbytes)
    p.tensor("M", 48).tensor("V", 48).tensor("STEP", 12)
    p.op("QSGD_APPLY", APPLY, ["W", "dW", "LR", "RNG", "MOM"], [12, e, 3, 32767])
    p.op("QSGD_APPLY", APPLY, ["W", "dW", "LR", "RNG"], [12, e, 3, 0])
    p.op("QADAM_APPLY", APPLY, ["W", "dW", "LR", "M", "V", "STEP", "RNG"], [12, e, 3, 0, 2 ** 30 - 1, 32767, -62])
    return p.op("QADAM_APPLY", APPLY, ["W", "dW", "LR", "M", "V", "STEP", "RNG"], [12, e, 3, 966367642, 1072668082, 1, 62])


def conv(e):
    n, c, h, w, oc, k, s, pad, groups = 2, 4, 6, 6, 4, 3, 2, 1, 2
    o = (h + 2 * pad - k) // s + 1
    shape = [n, c, h, w, oc, k, k, s, s, pad, pad, o, o, groups, e]
    xn, yn, wn = n * c * h * w, n * oc * o * o, oc * c // groups * k * k
    p = Program()
    for name, nbytes in [("X", xn * e), ("W", wn * e), ("B", 4 * oc), ("Y", yn * e), ("RQ", 8 * oc),
                         ("WS", 4 * oc), ("dY", g16_bytes(yn)), ("dW", g16_bytes(wn)), ("dB", g16_bytes(oc)),
                         ("dX", g16_bytes(xn))]:
        p.tensor(name, nbytes)
    p.op("QCONV_FWD", FWD, ["X", "W", "B", "Y", "RQ"], shape + [0xFF00])
    p.op("QCONV_GRAD", GRAD, ["X", "dY", "dW", "dB"], shape + [0x00FF])
    return p.op("QCONV_DERIV", DERIV, ["dY", "W", "WS", "dX"], shape + [-5])


def pool(e):
    shape = [2, 3, 7, 7, 3, 3, 2, 2, 1, 1, 4, 4]
    xn, yn = 2 * 3 * 49, 2 * 3 * 16
    p = Program()
    for name, nbytes in [("X", xn * e), ("Y", yn * e), ("IDX", 4 * yn), ("A", yn * e),
                         ("dY", g16_bytes(yn)), ("dXm", g16_bytes(xn)), ("dXa", g16_bytes(xn))]:
        p.tensor(name, nbytes)
    p.op("QMAXPOOL_FWD", FWD, ["X", "Y", "IDX"], shape + [e])
    p.op("QAVGPOOL_FWD", FWD, ["X", "A"], shape + [e, -7])
    p.op("QMAXPOOL_DERIV", DERIV, ["dY", "IDX", "dXm"], shape)
    p.op("QMAXPOOL_FWD", FWD, ["X", "Y", None], shape + [e])
    p.op("QMAXPOOL_DERIV_X", DERIV, ["dY", "X", "dXm"], shape + [e])
    return p.op("QAVGPOOL_DERIV", DERIV, ["dY", "dXa"], shape)


def serialize(prog, arena):
    table = np.array([(prog.offsets[n], prog.sizes[n]) for n in prog.offsets], np.uint32)
    ops = np.stack(prog.ops)
    head = np.array([len(ops), len(table), prog.end], np.uint32)
    return head.tobytes() + ops.tobytes() + table.tobytes() + arena.tobytes()


FILLS = {"random": None, "0x7f": 0x7F, "0x80": 0x80, "0xff": 0xFF, "zero": 0x00}


@pytest.mark.parametrize("build", [fc, act_loss, sgd, conv, pool])
@pytest.mark.parametrize("e", [1, 2])
def test_hostile_arenas_are_safe(runner, tmp_path, build, e):
    prog = build(e)
    if build is sgd and e == 2:   # int32 biases
        prog = Program().tensor("W", 48).tensor("dW", g16_bytes(12)).tensor("LR", 24).tensor("RNG", 4)
        prog.tensor("MOM", 48).tensor("M", 48).tensor("V", 48).tensor("STEP", 12)
        prog.op("QSGD_APPLY", APPLY, ["W", "dW", "LR", "RNG", "MOM"], [12, 4, 3, 1])
        prog.op("QADAM_APPLY", APPLY, ["W", "dW", "LR", "M", "V", "STEP", "RNG"], [12, 4, 3, 5, 7, 0, 0])
    g = np.random.default_rng(zlib.crc32(build.__name__.encode()) + e)
    for fill, byte in FILLS.items():
        for trial in range(3 if byte is None else 1):
            arena = g.integers(0, 256, prog.end, dtype=np.uint8) if byte is None \
                else np.full(prog.end, byte, np.uint8)
            path = tmp_path / ("%s_%d.bin" % (fill, trial))
            path.write_bytes(serialize(prog, arena))
            done = subprocess.run([str(runner), str(path)], capture_output=True, text=True)
            assert done.returncode == 0, (fill, done.returncode, done.stderr[-2000:])
