"""The core cross-built for AArch64 (NEON micro-kernels) and run under
qemu-aarch64 gives the x86-64 build's results bit for bit: FC, conv and
pooling kernels on awkward shapes, and whole training iterations of the digits
MLP and CNN bundles. On x86-64 the AVX-512, AVX2, SSE and scalar sets agree as well,
and so does the scalar set on AArch64 (the Cortex-M code path)."""
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from host_tools.cli import main

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "core_cy" / "src"
DRIVER = ROOT / "tests" / "cross_driver.c"
APT = ("apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu "
       "libc6-dev-arm64-cross qemu-user")
CFLAGS = ["-std=c99", "-O2", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra",
          "-Werror", "-I", str(SRC)]


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: {APT}")
    return path


def _build(compiler, out, extra=()):
    sources = sorted(str(p) for p in SRC.glob("*.c"))
    subprocess.run([compiler, *CFLAGS, *extra, *sources, str(DRIVER), "-o", str(out), "-lm"],
                   check=True)
    return out


@pytest.fixture(scope="module")
def drivers(tmp_path_factory):
    """(x86-64 command, AArch64 command): argv prefixes running the driver."""
    arm_cc, qemu = _tool("aarch64-linux-gnu-gcc"), _tool("qemu-aarch64")
    work = tmp_path_factory.mktemp("cross")
    native = _build(_tool("gcc"), work / "driver-x86_64")
    arm = _build(arm_cc, work / "driver-aarch64", ["-static"])
    return [str(native)], [qemu, str(arm)]


def _run(command, variant, *args, out):
    """Runs the driver; returns (micro-kernel set it used, result bytes)."""
    done = subprocess.run([*command, variant, *args, str(out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), out.read_bytes()


def test_kernels_are_bit_identical_on_every_micro_kernel_set(drivers, tmp_path):
    native, arm = drivers
    x86_set, reference = _run(native, "auto", "kernels", out=tmp_path / "x86.bin")
    assert x86_set in ("avx512", "avx2", "sse")
    assert len(reference) > 900_000   # every case wrote its results
    for variant in [v for v in ("avx2", "sse", "scalar") if v != x86_set]:
        assert _run(native, variant, "kernels", out=tmp_path / f"{variant}.bin") == \
            (variant, reference)
    assert _run(arm, "auto", "kernels", out=tmp_path / "neon.bin") == ("neon", reference)
    assert _run(arm, "scalar", "kernels", out=tmp_path / "arm-scalar.bin") == ("scalar", reference)


# the two-branch model: l2norm regularizer, micro-batched (its term joins the accumulator)
@pytest.mark.parametrize("model, extra", [("digits_mlp", ()), ("digits_cnn", ()),
                                          ("nntrainer/two_branch_digits", ("--micro-batch", "8"))])
def test_training_iterations_are_bit_identical_on_aarch64(drivers, tmp_path, model, extra):
    native, arm = drivers
    bundle = tmp_path / "model.mtb"
    assert main(["plan", str(ROOT / "examples" / f"{model}.ini"), "-o", str(bundle),
                 "--data", "digits", "--seed", "5", *extra]) == 0
    x86_set, x86 = _run(native, "auto", "train", str(bundle), "3", out=tmp_path / "x86.bin")
    arm_set, aarch64 = _run(arm, "auto", "train", str(bundle), "3", out=tmp_path / "arm.bin")
    assert x86_set in ("avx512", "avx2", "sse") and arm_set == "neon"
    losses = struct.unpack("<3f", x86[:12])
    assert all(0.5 < loss < 5.0 for loss in losses) and len(set(losses)) == 3, losses
    assert x86 == aarch64
