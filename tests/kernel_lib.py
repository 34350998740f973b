"""Builds every core_cy/src/mt_kernels_*.c (and mt_math.c, the maths they
use) into one shared library for tests.

The flags match the portability contract: strict C99, warnings are errors,
and no floating-point contraction (so results do not depend on FMA units).
Use the session-scoped ``lib`` fixture; ``ptr`` turns numpy arrays into
ctypes pointers (None stays NULL).
"""
import ctypes
import glob
import os
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "core_cy", "src")
CFLAGS = ["-std=c99", "-O2", "-fPIC", "-shared", "-ffp-contract=off",
          "-Wall", "-Wextra", "-Werror"]

P = ctypes.c_void_p
I = ctypes.c_int
F = ctypes.c_float


class ConvShape(ctypes.Structure):
    _fields_ = [(k, ctypes.c_int) for k in
                ("n", "c", "h", "w", "oc", "kh", "kw", "sh", "sw",
                 "ph", "pw", "oh", "ow", "groups")]


class PoolShape(ctypes.Structure):
    _fields_ = [(k, ctypes.c_int) for k in
                ("n", "c", "h", "w", "kh", "kw", "sh", "sw", "ph", "pw", "oh", "ow")]


# name -> (restype, argtypes)
SIGNATURES = {
    "mt_fc_fwd": (None, [P, P, P, P, I, I, I]),
    "mt_fc_grad": (None, [P, P, P, P, I, I, I]),
    "mt_fc_deriv": (None, [P, P, P, I, I, I]),
    "mt_fc_fwd_packed": (None, [P, P, P, P, I, I, I, P, ctypes.c_uint32]),
    "mt_fc_packed_scratch_bytes": (ctypes.c_uint64, [I, I, I]),
    "mt_gemm_select": (I, [ctypes.c_char_p]),
    "mt_conv_fwd": (None, [P, P, P, P, P, P]),
    "mt_conv_grad": (None, [P, P, P, P, P, P]),
    "mt_conv_deriv": (None, [P, P, P, P, P]),
    "mt_maxpool_fwd": (None, [P, P, P, P]),
    "mt_maxpool_deriv": (None, [P, P, P, P]),
    "mt_avgpool_fwd": (None, [P, P, P]),
    "mt_avgpool_deriv": (None, [P, P, P]),
    "mt_act_fwd": (None, [I, P, P, I, I]),
    "mt_act_deriv": (None, [I, P, P, P, I, I]),
    "mt_bn_fwd_train": (None, [P, P, P, P, P, P, P, P, I, I, I, F, F]),
    "mt_bn_fwd_eval": (None, [P, P, P, P, P, P, I, I, I, F]),
    "mt_bn_grad": (None, [P, P, P, P, P, P, I, I, I]),
    "mt_bn_deriv": (None, [P, P, P, P, P, P, I, I, I]),
    "mt_add": (None, [P, P, I, I]),
    "mt_copy": (None, [P, P, I]),
    "mt_dropout_fwd": (None, [P, P, P, P, I, F]),
    "mt_dropout_deriv": (None, [P, P, P, I]),
    "mt_loss_mse_fwd": (F, [P, P, I, I, I, P]),
    "mt_loss_mse_deriv": (None, [P, P, I, I, I, P]),
    "mt_loss_ce_softmax_fwd": (F, [P, P, I, I, I, P, P]),
    "mt_loss_ce_softmax_deriv": (None, [P, P, I, I, I, P]),
    "mt_loss_ce_sigmoid_fwd": (F, [P, P, I, I, I, P, P]),
    "mt_loss_ce_sigmoid_deriv": (None, [P, P, I, I, I, P]),
    "mt_sgd_apply": (None, [P, P, P, I, F, F]),
    "mt_adam_apply": (None, [P, P, P, P, P, I, F, F, F, F]),
    "mt_expf": (F, [F]),
    "mt_logf": (F, [F]),
    "mt_one_minus_powf": (F, [F, ctypes.c_uint32]),
}


def conv_scratch():
    """The arena scratch a conv kernel takes (MT_CONV_SCRATCH_BYTES)."""
    from core_cy import CONSTANTS
    return np.zeros(CONSTANTS["CONV_SCRATCH_BYTES"] // 4, np.float32)


def on_sets(lib, names):
    """Selects each GEMM set of `names` (bytes) this build and CPU have, in
    turn, yielding its name; restores the automatic choice afterwards."""
    try:
        for name in names:
            if lib.mt_gemm_select(name):
                yield name
    finally:
        lib.mt_gemm_select(None)


def ptr(a):
    """ctypes pointer to a C-contiguous numpy array / ctypes object, or NULL."""
    if a is None:
        return None
    if isinstance(a, np.ndarray):
        assert a.flags["C_CONTIGUOUS"]
        return a.ctypes.data
    return ctypes.addressof(a)


def build(outdir, extra_cflags=()):
    sources = sorted(glob.glob(os.path.join(SRC, "mt_kernels_*.c"))) + [os.path.join(SRC, "mt_math.c")]
    assert sources, "no kernel sources found"
    so = os.path.join(str(outdir), "libmt_kernels.so")
    subprocess.run(["gcc", *CFLAGS, *extra_cflags, "-I", SRC, *sources, "-o", so, "-lm"],
                   check=True, capture_output=False)
    lib = ctypes.CDLL(so)
    for name, (res, args) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


@pytest.fixture(scope="session")
def lib(tmp_path_factory):
    return build(tmp_path_factory.mktemp("kernels"))


def build_core(outdir):
    """The whole portable core (every core_cy/src/*.c) as one shared library,
    for calling the executor directly (past the Python layer's checks)."""
    sources = sorted(glob.glob(os.path.join(SRC, "*.c")))
    so = os.path.join(str(outdir), "libmt_core.so")
    subprocess.run(["gcc", *CFLAGS, "-I", SRC, *sources, "-o", so, "-lm"], check=True)
    lib = ctypes.CDLL(so)
    lib.mt_run.restype = ctypes.c_int
    lib.mt_run.argtypes = [P, P, I, P]
    lib.mt_status_str.restype = ctypes.c_char_p
    lib.mt_status_str.argtypes = [I]
    return lib


@pytest.fixture(scope="session")
def core_lib(tmp_path_factory):
    return build_core(tmp_path_factory.mktemp("core"))
