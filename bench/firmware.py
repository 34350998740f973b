"""The firmware's cost under QEMU, in executed instructions (deterministic,
unlike QEMU's wall time): per training iteration and per multiply-accumulate
of the FC/conv ops, for the digits MLP, the digits CNN and a zoo CNN that
swaps to flash; plus the firmware's text/data/bss and peak stack.

    python bench/firmware.py [--target baremetal-m4f] [--iterations 12]

Counting: a TCG plugin (bench/qemu_plugin/) adds each translated block's
instruction count as it runs and logs the running total when the firmware
enters mt_train_loop() and when that call returns in trainer_train(); the
firmware trains one iteration per call, so one iteration = the median of those
differences: batch loading, the ops and the swap events with their flash I/O,
without the agent's link polling in between. The first run fetches QEMU's plugin header from
Debian's source package (apt-get source, needs the Debian mirror)."""

import argparse
import contextlib
import io
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.qemu_plugin.build import plugin_library  # noqa: E402
from host_tools.cli import main as microtrain  # noqa: E402
from host_tools.data import digits  # noqa: E402
from host_tools.device.bundle_file import load_bundle  # noqa: E402
from host_tools.device.client import BoardClient  # noqa: E402
from host_tools.device.qemu_board import QemuBoard, build_firmware  # noqa: E402
from host_tools.device.progress import Progress  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# name, model file, batch
MODELS = (
    ("digits MLP", REPO / "examples" / "digits_mlp.ini", 32),
    ("digits CNN", REPO / "examples" / "digits_cnn.ini", 8),
    ("zoo dscnn (swap)", REPO / "bench" / "zoo" / "dscnn.ini", 1),
)
FC_KINDS, CONV_KINDS = (1, 2, 3), (10, 11, 12)


def macs_per_iteration(view):
    """Multiply-accumulates of the FC and conv ops (forward, weight grad, input grad)."""
    total = 0
    for kind, p in zip(view.ops["kind"].tolist(), view.ops["p"].tolist()):
        if kind in FC_KINDS:
            total += p[0] * p[1] * p[2]
        elif kind in CONV_KINDS:
            n, c, oc, kh, kw, oh, ow, groups = p[0], p[1], p[4], p[5], p[6], p[11], p[12], p[13]
            total += n * oc * oh * ow * (c // groups) * kh * kw
    return total


def samples_for(view, count):
    """Digits for 64-input models, else seeded noise with labels 0/1."""
    if view.x_numel == 64:
        clean = digits()
        return clean.x[:count].reshape(count, -1), clean.y[:count]
    rng = np.random.default_rng(0)
    return (rng.standard_normal((count, view.x_numel)).astype(np.float32),
            rng.integers(0, 2, count).astype(np.int64))


def iteration_bounds(elf):
    """(entry of mt_train_loop, the instruction after trainer_train's call of it)."""
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--disassemble=trainer_train", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    lines = [line for line in out.splitlines() if re.match(r"\s+[0-9a-f]+:", line)]
    for here, after in zip(lines, lines[1:]):
        found = re.search(r"\bbl\s+([0-9a-f]+) <mt_train_loop>", here)
        if found:
            return int(found.group(1), 16), int(after.split(":")[0], 16)
    raise SystemExit(f"bench/firmware.py: no call of mt_train_loop in trainer_train of {elf}")


def plan_bundle(target, model, batch, work, extra=()):
    """`microtrain plan` of `model` for `target` -> path of the bundle in `work`."""
    bundle = work / "model.mtb"
    with contextlib.redirect_stdout(io.StringIO()):  # the plan's report: not this table
        assert microtrain(["plan", str(model), "--batch", str(batch), "--target", target,
                           *extra, "-o", str(bundle)]) == 0
    return bundle


def marked_run(target, elf, bundle, bounds, iterations, work, board_kind=QemuBoard):
    """Trains `iterations` on the emulated board under the counting plugin with its
    markers at bounds = (start, stop) -> ([(mark name, running count)], console text)."""
    view = load_bundle(bundle).view
    marks, console = work / "marks.txt", work / "console.log"
    plugin = f"{plugin_library()},start={bounds[0]:#x},stop={bounds[1]:#x},out={marks}"
    with open(console, "wb") as log:
        board = board_kind(target, work / "board", elf=elf, stderr=log, extra_args=["-plugin", plugin])
        try:
            with BoardClient(board.port) as client:
                client.hello()
                x, y = samples_for(view, max(2 * view.batch, 16))
                client.upload_samples(x, y)
                client.flash(load_bundle(bundle))
                client.start(iterations=iterations)
                while not any(isinstance(e, Progress) and e.done for e in client.events):
                    client.pump(0.1)
            time.sleep(0.3)  # the console line after the final PROGRESS
        finally:
            board.stop()
    lines = [line.partition(" ") for line in marks.read_text().splitlines()]
    return [(name, int(value)) for name, _, value in lines], console.read_text(errors="replace")


def run_model(target, elf, model, batch, iterations, work):
    bundle = plan_bundle(target, model, batch, work)
    view = load_bundle(bundle).view
    marks, console = marked_run(target, elf, bundle, iteration_bounds(elf), iterations, work)
    counts = {"start": [], "stop": []}
    for name, value in marks:
        if name in counts:
            counts[name].append(value)
    per_iteration = statistics.median(b - a for a, b in zip(counts["start"], counts["stop"]))
    peak = [line for line in console.splitlines() if "stack peak" in line]
    macs = macs_per_iteration(view)
    return {"arena": view.arena_bytes, "swap": len(view.swap_events) if view.swap_events is not None else 0,
            "iterations": len(counts["stop"]), "insns": per_iteration, "macs": macs,
            "stack": int(peak[-1].split()[3]) if peak else None}


def sizes(elf):
    out = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True, check=True)
    text, data, bss = (int(v) for v in out.stdout.splitlines()[1].split()[:3])
    return text, data, bss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="baremetal-m4f", choices=("baremetal-m4f", "baremetal-m3"))
    parser.add_argument("--iterations", type=int, default=12)
    args = parser.parse_args(argv)
    elf = build_firmware(args.target)
    text, data, bss = sizes(elf)
    print(f"{args.target}: text {text} B, data {data} B, bss {bss} B "
          f"(bss = 224 KiB arena + 16 KiB stack + {bss - 240 * 1024} B of agent/link buffers)", flush=True)
    print(f"{'model':<18} {'batch':>5} {'arena B':>8} {'swap ev':>7} {'MACs/iter':>10} "
          f"{'insns/iter':>11} {'insns/MAC':>9} {'stack peak B':>12}", flush=True)
    for name, model, batch in MODELS:
        with tempfile.TemporaryDirectory(prefix="mt-bench-fw-") as tmp:
            row = run_model(args.target, elf, model, batch, args.iterations, Path(tmp))
        print(f"{name:<18} {batch:>5} {row['arena']:>8} {row['swap']:>7} {row['macs']:>10} "
              f"{row['insns']:>11.0f} {row['insns'] / row['macs']:>9.2f} {row['stack'] or '?':>12}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
