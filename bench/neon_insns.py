"""Instructions per multiply-accumulate of the float kernels on AArch64, NEON
micro-kernels with the conv scratch the host plans for a Linux board against
the scalar set with the minimum scratch (the Cortex-M code path), counted
under qemu-aarch64 with the instruction-counting plugin of bench/qemu_plugin.

    python bench/neon_insns.py

The core is cross-built (aarch64-linux-gnu-gcc -O2 -ffp-contract=off, static)
with a small harness that calls each kernel between two marker functions; the
plugin records the executed-instruction count at each marker, so a figure is
exact and repeatable (QEMU's wall time means nothing). Needs
`apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu
libc6-dev-arm64-cross qemu-user` and the plugin's QEMU header (fetched once,
see bench/qemu_plugin/build.py)."""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.qemu_plugin.build import plugin_library  # noqa: E402
from host_tools.graph.conv_scratch import (CONV_KINDS, LINUX_CAP_BYTES, MIN_BYTES,  # noqa: E402
                                           useful_bytes)

SRC = ROOT / "core_cy" / "src"

HARNESS = r"""
#include <string.h>
#include "mt_gemm.h"
#include "mt_kernels.h"
static float a[1 << 20], b[1 << 20], c[1 << 20], d[1 << 20], e[1 << 20];
static float scratch[SCRATCH_CAP / 4];
static int wide;   /* the Linux board's planned conv scratch, else the Cortex-M minimum */
__attribute__((noinline)) void mark_start(void) { __asm__ volatile(""); }
__attribute__((noinline)) void mark_stop(void) { __asm__ volatile(""); }
static void fc(int n, int in, int out)
{
    mark_start(); mt_fc_fwd(a, b, 0, c, n, in, out); mark_stop();
    mark_start(); mt_fc_grad(a, c, d, 0, n, in, out); mark_stop();
    mark_start(); mt_fc_deriv(c, b, e, n, in, out); mark_stop();
}
static void conv(int n, int ch, int hw, int oc, int k, int pad, unsigned fwd_bytes,
                 unsigned grad_bytes, unsigned deriv_bytes)
{
    mt_conv_shape s;
    int o = hw + 2 * pad - k + 1;
    s.n = n; s.c = ch; s.h = hw; s.w = hw; s.oc = oc; s.kh = k; s.kw = k;
    s.sh = 1; s.sw = 1; s.ph = pad; s.pw = pad; s.oh = o; s.ow = o; s.groups = 1;
    if (!wide)
        fwd_bytes = grad_bytes = deriv_bytes = MT_CONV_SCRATCH_BYTES;
    mark_start(); mt_conv_fwd_sized(&s, a, b, 0, c, scratch, fwd_bytes); mark_stop();
    mark_start(); mt_conv_grad_sized(&s, a, c, d, 0, scratch, grad_bytes); mark_stop();
    mark_start(); mt_conv_deriv_sized(&s, c, b, e, scratch, deriv_bytes); mark_stop();
}
int main(int argc, char **argv)
{
    int i;
    if (argc > 1 && !mt_gemm_select(argv[1]))
        return 2;
    wide = argc > 2 && strcmp(argv[2], "wide") == 0;
    for (i = 0; i < (1 << 20); i++)
        a[i] = b[i] = (float)(i % 7) * 0.25f - 0.5f;
    CASES
    return 0;
}
"""

# name, kind, dims, multiply-accumulates per kernel call
FC = [(32, 784, 128), (8, 120, 84), (64, 512, 512)]
CONV = [(8, 16, 14, 16, 3, 1), (8, 6, 14, 16, 5, 0)]


def cases():
    rows = []
    for n, i, o in FC:
        rows.append((f"fc {i}->{o} n={n}", f"fc({n}, {i}, {o});", n * i * o))
    for n, c, hw, oc, k, pad in CONV:
        out = hw + 2 * pad - k + 1
        params = [n, c, hw, hw, oc, k, k, 1, 1, pad, pad, out, out, 1]
        sizes = ", ".join(str(max(MIN_BYTES, min(LINUX_CAP_BYTES, useful_bytes(kind, params))))
                          for kind in CONV_KINDS)
        rows.append((f"conv {k}x{k} {c}->{oc} {hw}x{hw} n={n}",
                     f"conv({n}, {c}, {hw}, {oc}, {k}, {pad}, {sizes});",
                     n * oc * c * k * k * out * out))
    return rows


def tool(name):
    path = shutil.which(name)
    if not path:
        sys.exit(f"{name} not found: apt-get install -y --no-install-recommends "
                 "gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user")
    return path


def build(work, rows):
    harness = work / "harness.c"
    harness.write_text(HARNESS.replace("CASES", "\n    ".join(r[1] for r in rows)))
    exe = work / "harness"
    subprocess.run([tool("aarch64-linux-gnu-gcc"), "-std=c99", "-O2", "-ffp-contract=off",
                    "-fno-math-errno", "-static", f"-DSCRATCH_CAP={LINUX_CAP_BYTES}", "-I", str(SRC), *map(str, SRC.glob("*.c")),
                    str(harness), "-o", str(exe), "-lm"], check=True)
    symbols = subprocess.run([tool("aarch64-linux-gnu-nm"), str(exe)], capture_output=True,
                             text=True, check=True).stdout.split("\n")
    address = {line.split()[2]: int(line.split()[0], 16) for line in symbols
               if len(line.split()) == 3}
    return exe, address["mark_start"], address["mark_stop"]


def counts(exe, start, stop, variant, work):
    marks = work / f"marks-{variant}.txt"
    plugin = f"{plugin_library()},start={start:#x},stop={stop:#x},out={marks}"
    scratch = "wide" if variant == "neon" else "min"
    subprocess.run([tool("qemu-aarch64"), "-plugin", plugin, str(exe), variant, scratch],
                   check=True)
    values = [int(line.split()[1]) for line in marks.read_text().splitlines()
              if line.split()[0] in ("start", "stop")]
    return [values[i + 1] - values[i] for i in range(0, len(values), 2)]


def main():
    rows = cases()
    with tempfile.TemporaryDirectory(prefix="mt_neon_") as tmp:
        work = Path(tmp)
        exe, start, stop = build(work, rows)
        neon, scalar = (counts(exe, start, stop, v, work) for v in ("neon", "scalar"))
    print(f"{'kernel call':32} {'MACs':>10} | {'NEON insn/MAC':>13} {'scalar insn/MAC':>15}"
          f" {'scalar/NEON':>11}")
    for i, (name, _, macs) in enumerate(rows):
        for k, phase in enumerate(("fwd", "dW", "dX")):
            ne, sc = neon[3 * i + k], scalar[3 * i + k]
            print(f"{name + ' ' + phase:32} {macs:10d} | {ne / macs:13.3f} {sc / macs:15.3f}"
                  f" {sc / ne:11.2f}")


if __name__ == "__main__":
    main()
