"""Every GEMM micro-kernel set this machine runs (scalar, SSE, AVX2, AVX-512;
NEON is checked under qemu in test_aarch64.py) gives the scalar set's bits for
the three FC training GEMMs, on shapes that reach every block edge (odd
sample counts, K % 8 != 0, output and column counts off every block width)
and on the 784-512-512-512-10 stack's own shapes. The scalar set is the
Cortex-M code path, so this pins the canonical order of mt_gemm.h."""
import ctypes

import numpy as np
import pytest
from kernel_lib import build, ptr

SETS = ("scalar", "sse", "avx2", "avx512", "neon")
# n (samples), in, out
SHAPES = [(1, 7, 3), (2, 8, 1), (3, 13, 7), (5, 37, 11), (7, 64, 13), (9, 100, 25),
          (17, 129, 33), (33, 200, 70), (4, 16, 16), (64, 784, 512), (64, 512, 512),
          (64, 512, 10), (63, 520, 47), (1, 784, 512), (32, 120, 84), (8, 24, 40),
          # every count of rows left under a full block (bands of 4, 2, then 1)
          (6, 150, 6), (14, 41, 5), (15, 97, 14), (12, 400, 30), (29, 61, 23)]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    lib = build(tmp_path_factory.mktemp("gemm_sets"))
    lib.mt_gemm_select.argtypes = [ctypes.c_char_p]
    lib.mt_gemm_select.restype = ctypes.c_int
    return lib


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def available(lib):
    found = [name for name in SETS if lib.mt_gemm_select(name.encode())]
    lib.mt_gemm_select(None)
    return found


def test_the_cpus_widest_set_is_built_and_chosen(lib):
    flags, found = cpu_flags(), available(lib)
    if {"avx512f", "avx512vl"} <= flags:
        assert "avx512" in found
    if "avx2" in flags:
        assert "avx2" in found
    lib.mt_gemm_select(None)
    assert found[-1] != "scalar" or not flags & {"sse2", "avx2"}


def fc_results(lib, x, w, b, dy):
    n, inputs = x.shape
    out = w.shape[0]
    y, dw, db, dx = (np.full(s, np.nan, np.float32)
                     for s in ((n, out), (out, inputs), out, (n, inputs)))
    lib.mt_fc_fwd(ptr(x), ptr(w), ptr(b), ptr(y), n, inputs, out)
    lib.mt_fc_grad(ptr(x), ptr(dy), ptr(dw), ptr(db), n, inputs, out)
    lib.mt_fc_deriv(ptr(dy), ptr(w), ptr(dx), n, inputs, out)
    return [a.tobytes() for a in (y, dw, db, dx)]


@pytest.mark.parametrize("n, inputs, out", SHAPES)
def test_fc_gemms_are_bit_identical_on_every_set(lib, n, inputs, out):
    g = np.random.default_rng(n * 1000 + inputs + out)
    x, w = g.standard_normal((n, inputs), np.float32), g.standard_normal((out, inputs), np.float32)
    b, dy = g.standard_normal(out, np.float32), g.standard_normal((n, out), np.float32)
    found = available(lib)
    assert lib.mt_gemm_select(b"scalar")
    reference = fc_results(lib, x, w, b, dy)
    assert not any(np.isnan(np.frombuffer(r, np.float32)).any() for r in reference)
    for name in found[1:]:
        assert lib.mt_gemm_select(name.encode())
        assert fc_results(lib, x, w, b, dy) == reference, name
    lib.mt_gemm_select(None)
