"""Executed instructions per training iteration on the emulated Cortex-M boards
for the same MLP in float32 (SGD + momentum), int8 and fixed (int16) (m16
momentum; "fused": the weight gradient fused with its update, as integer
graphs run by default), the
programs hand-built as in bench/int8_core_step.py and flashed as bundles;
counted like bench/firmware.py (a QEMU TCG plugin between the entry of
mt_train_loop and its return). M4F: hard float; M3: soft float; M3 fixed:
the qemu_m3_fixed build (-DMT_NO_FLOAT_KERNELS, integer ops only).

    python bench/int8_firmware.py [--sizes 64,64,10] [--batch 8] [--iterations 6]
"""
import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.firmware import iteration_bounds  # noqa: E402
from bench.int8_core_step import float_ops, int_ops  # noqa: E402
from bench.qemu_plugin.build import plugin_library  # noqa: E402
from host_tools.bundle.content import BundleContent, InitRecord, TrainSettings  # noqa: E402
from host_tools.bundle.layout import TENSOR_DTYPE, WHERE_ARENA  # noqa: E402
from host_tools.bundle.writer import write_bundle  # noqa: E402
from host_tools.device.bundle_file import load_bundle  # noqa: E402
from host_tools.device.client import BoardClient  # noqa: E402
from host_tools.device.progress import Progress  # noqa: E402
from host_tools.device.qemu_board import QemuBoard, build_firmware  # noqa: E402
from host_tools.errors import UserError  # noqa: E402


def initial_bytes(name, nbytes, floats, g):
    """Plausible starting values: small weights, multipliers that keep sums in range."""
    if floats:
        return (g.standard_normal(nbytes // 4) * 0.1).astype(np.float32).tobytes()
    count = nbytes // 4
    if name.startswith(("RQ", "LW", "LB")):   # (M, sh) pairs
        shift = 14 if name.startswith("RQ") else 24
        return np.array([16384] * (count // 2) + [shift] * (count // 2), np.int32).tobytes()
    if name.startswith("WS"):
        return np.full(count, 16384, np.int32).tobytes()
    if name == "RNG":
        return np.array([2463534242], np.uint32).tobytes()
    if name.startswith(("W", "B")):
        return g.integers(-40, 41, nbytes, dtype=np.int8).tobytes() if not name.startswith("B") \
            else np.zeros(count, np.int32).tobytes()
    return None


def bundle(arena, ops, inputs, batch, x_numel, floats, path):
    g = np.random.default_rng(0)
    tensors = np.array(arena.table, np.uint32)
    table = np.zeros(len(tensors), TENSOR_DTYPE)
    table["offset"], table["nbytes"] = tensors[:, 0], tensors[:, 1]
    init = []
    for name, tid in arena.ids.items():
        data = initial_bytes(name, int(tensors[tid][1]), floats, g)
        if data is not None and (floats and name.startswith(("W", "B")) or not floats):
            init.append(InitRecord(tid, WHERE_ARENA, int(tensors[tid][0]), data))
    content = BundleContent(ops=np.stack(ops), tensors=table,
                            arena_bytes=arena.end, input=arena.ids[inputs], labels=arena.ids["T"],
                            metrics=arena.ids["M"], output=arena.ids["P"], batch=batch,
                            x_numel=x_numel, init=init, train=TrainSettings(epochs=1))
    write_bundle(path, content)
    return load_bundle(path)


def count(elf, target, flashed, x, y, iterations, work):
    marks = work / "marks.txt"
    start, stop = iteration_bounds(elf)
    plugin = f"{plugin_library()},start={start:#x},stop={stop:#x},out={marks}"
    with open(work / "console.log", "wb") as log:
        board = QemuBoard(target, work / "board", elf=elf, stderr=log, extra_args=["-plugin", plugin])
        try:
            with BoardClient(board.port) as client:
                client.hello()
                client.upload_samples(x, y)
                client.flash(flashed)
                client.start(iterations=iterations)
                while not any(isinstance(e, Progress) and e.done for e in client.events):
                    client.pump(0.1)
            time.sleep(0.3)
        finally:
            board.stop()
    counts = {"start": [], "stop": []}
    for line in marks.read_text().splitlines():
        name, _, value = line.partition(" ")
        if name in counts:
            counts[name].append(int(value))
    return statistics.median(b - a for a, b in zip(counts["start"], counts["stop"]))


def fixed_elf():
    """The qemu_m3_fixed build (same PlatformIO machinery as build_firmware)."""
    import os
    from host_tools.device import qemu_board as qb
    elf = build_firmware("baremetal-m3")  # checks the tools, seeds the offline platform
    environ = dict(os.environ, PLATFORMIO_CORE_DIR=str(qb.core_dir()),
                   PLATFORMIO_SETTING_ENABLE_TELEMETRY="No")
    qb._run(["pio", "run", "-s", "-e", "qemu_m3_fixed", "-d", str(qb.FIRMWARE_DIR)], environ,
            "firmware build (qemu_m3_fixed)")
    return elf.parent.parent / "qemu_m3_fixed" / "program.elf"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,64,10")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=6)
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        if len(sizes) < 2 or min(sizes) < 1 or args.batch < 1 or args.iterations < 2:
            raise ValueError
    except ValueError:
        sys.exit("int8_firmware.py: --sizes wants two or more positive integers, --batch >= 1, --iterations >= 2")
    n, samples = args.batch, 4 * args.batch
    g = np.random.default_rng(1)
    y = g.integers(0, sizes[-1], samples).astype(np.int64)
    x_float = g.standard_normal((samples, sizes[0])).astype(np.float32)
    x_int = g.integers(-128, 128, (samples, sizes[0])).astype(np.int32).view(np.float32)
    try:
        elves = {"baremetal-m4f": build_firmware("baremetal-m4f"), "baremetal-m3": build_firmware("baremetal-m3"),
                 "baremetal-m3 fixed": fixed_elf()}
    except UserError as error:
        sys.exit(f"int8_firmware.py: {error}")
    runs = [("baremetal-m4f", "float32"), ("baremetal-m4f", "int8"), ("baremetal-m4f", "int8 fused"),
            ("baremetal-m4f", "fixed"), ("baremetal-m4f", "fixed fused"),
            ("baremetal-m3", "float32"), ("baremetal-m3", "int8"), ("baremetal-m3", "int8 fused"),
            ("baremetal-m3 fixed", "fixed"), ("baremetal-m3 fixed", "fixed fused")]
    print(f"MLP {'-'.join(map(str, sizes))}, batch {n}: instructions per iteration")
    print(f"{'board':<20} {'precision':<12} {'arena B':>8} {'insns/iter':>11} {'vs float32':>10}")
    base = {}
    for board, precision in runs:
        with tempfile.TemporaryDirectory(prefix="mt-int8-fw-") as tmp:
            work = Path(tmp)
            if precision == "float32":
                arena, ops = float_ops(sizes, n, momentum=0.9)
                flashed = bundle(arena, ops, "X", n, sizes[0], True, work / "m.mtb")
                x = x_float
            else:
                arena, ops = int_ops(sizes, n, 1 if precision.startswith("int8") else 2,
                                     fused=precision.endswith("fused"))
                flashed = bundle(arena, ops, "X32", n, sizes[0], False, work / "m.mtb")
                x = x_int
            with contextlib.redirect_stderr(sys.stderr):
                insns = count(elves[board], board.split()[0], flashed, x, y, args.iterations, work)
        base.setdefault(board.split()[0], insns)
        print(f"{board:<20} {precision:<12} {arena.end:>8} {insns:>11.0f} "
              f"{insns / base[board.split()[0]]:>10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
