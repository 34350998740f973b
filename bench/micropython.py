"""The board agent on MicroPython against its peers on the same model and data: the
CPython board (linux), the unix port (micropython-unix), the bare-metal C firmware
(baremetal-m4f) and the MicroPython firmware (micropython-m4f), both under QEMU.

    python bench/micropython.py [--iterations 200] [--targets linux,micropython-m4f,...]

Per board: flash throughput (the samples blob and the bundle, KiB/s of wall time), training
iterations per second (wall time from TRAIN_START to FINISHED), and under QEMU the executed
instructions per iteration (a TCG plugin, bench/qemu_plugin/, deterministic unlike QEMU's wall
time): "core" counts only the C training loop (mt_train_sums in _microtrain, mt_train_loop in
the bare-metal firmware), "agent" everything from the first training call to the return of
the last, over all iterations: the agent's Python between chunks included (and its link
polling, so it varies a little with the host's timing). Then the MicroPython firmware's RAM:
its statics, its heap once the agent is up (the board logs it), the heap the arena and the
bundle share. The model: the digits MLP, batch 32, 320 uploaded samples, no DATA section.
"""

import argparse
import contextlib
import io
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.firmware import iteration_bounds, sizes  # noqa: E402
from bench.qemu_plugin.build import plugin_library  # noqa: E402
from host_tools.cli import main as microtrain  # noqa: E402
from host_tools.data import digits  # noqa: E402
from host_tools.device.bundle_file import load_bundle  # noqa: E402
from host_tools.device.client import BoardClient  # noqa: E402
from host_tools.device.micropython_board import MicroPythonQemuBoard  # noqa: E402
from host_tools.device.progress import Progress  # noqa: E402
from host_tools.device.qemu_board import QemuBoard, build_firmware  # noqa: E402
from host_tools.device.targets import MICROPYTHON_QEMU_HEAP, start_board  # noqa: E402
from board.samples import encode_samples  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "examples" / "digits_mlp.ini"
N_SAMPLES = 320
TARGETS = ("linux", "micropython-unix", "baremetal-m4f", "micropython-m4f")
HEAP_LINE = re.compile(r"MicroPython heap after start: (\d+) bytes used")


def core_bounds(target, elf):
    """(entry of the C training loop, the instruction after its call) in the target's ELF."""
    if target.startswith("baremetal"):
        return iteration_bounds(elf)
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--disassemble=executor_train", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    lines = [line for line in out.splitlines() if re.match(r"\s+[0-9a-f]+:", line)]
    for here, after in zip(lines, lines[1:]):
        found = re.search(r"\bbl\s+([0-9a-f]+) <mt_train_sums>", here)
        if found:
            return int(found.group(1), 16), int(after.split(":")[0], 16)
    raise SystemExit("bench/micropython.py: no call of mt_train_sums in executor_train of %s" % elf)


@contextlib.contextmanager
def running(target, storage, console, marks):
    """-> (port, ELF or None): the board, under the instruction-counting plugin if QEMU."""
    if target in ("linux", "micropython-unix"):
        port, board = start_board(target, storage, stderr=console)
        elf = None
    else:
        kind = QemuBoard if target.startswith("baremetal") else MicroPythonQemuBoard
        elf = build_firmware(target) if kind is QemuBoard else kind.build(target)
        start, stop = core_bounds(target, elf)
        plugin = "%s,start=%#x,stop=%#x,out=%s" % (plugin_library(), start, stop, marks)
        board = kind(target, storage, elf=elf, stderr=console, extra_args=["-plugin", plugin])
        port = board.port
    try:
        yield port, elf
    finally:
        board.stop()


def measure(target, bundle, iterations, work):
    clean = digits()
    x, y = clean.x[:N_SAMPLES].reshape(N_SAMPLES, -1), clean.y[:N_SAMPLES]
    console, marks = work / "console.log", work / "marks.txt"
    with open(console, "wb") as log, running(target, work / "board", log, marks) as (port, elf):
        with BoardClient(port) as client:
            client.hello()
            began = time.monotonic()
            client.upload_samples(x, y)
            client.flash(load_bundle(bundle))
            flash_seconds = time.monotonic() - began
            began = time.monotonic()
            client.start(iterations=iterations)
            while not any(isinstance(e, Progress) and e.done for e in client.events):
                client.pump(0.02)
            train_seconds = time.monotonic() - began
        time.sleep(0.3)
    sent = len(encode_samples(x, y)) + bundle.stat().st_size
    row = {"kib_s": sent / 1024 / flash_seconds, "it_s": iterations / train_seconds,
           "core": None, "agent": None, "heap": None, "elf": elf}
    if elf is not None:
        row["core"], row["agent"] = instruction_counts(marks, iterations)
    found = HEAP_LINE.findall(console.read_text(errors="replace"))
    row["heap"] = int(found[-1]) if found else None
    return row


def instruction_counts(marks, iterations):
    """(core, agent) instructions per iteration from the plugin's marks."""
    starts, stops = [], []
    for line in marks.read_text().splitlines():
        name, _, value = line.partition(" ")
        (starts if name == "start" else stops if name == "stop" else []).append(int(value))
    core = sum(b - a for a, b in zip(starts, stops))
    return core / iterations, (stops[-1] - starts[0]) / iterations


def ram_table(elf, heap_used, bundle):
    text, data, bss = sizes(elf)
    view = load_bundle(bundle).view
    statics = data + bss - MICROPYTHON_QEMU_HEAP
    print("\nmicropython-m4f RAM (budget 2,304 KiB: mps2_ram_budget.ld)")
    print("  firmware text (flash)              %9d B" % text)
    print("  MicroPython statics (data + bss)   %9d B  (besides the heap)" % statics)
    print("  heap (MICROPY_HEAP_SIZE)           %9d B" % MICROPYTHON_QEMU_HEAP)
    if heap_used is not None:
        print("  heap used once the agent is up     %9d B  (MicroPython's own cost)" % heap_used)
    print("  model arena (in the heap)          %9d B" % view.arena_bytes)
    print("  bundle read into the heap          %9d B" % bundle.stat().st_size)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    with tempfile.TemporaryDirectory(prefix="mt-bench-mp-") as tmp:
        bundle = Path(tmp) / "mlp.mtb"
        with contextlib.redirect_stdout(io.StringIO()):
            assert microtrain(["plan", str(MODEL), "--target", "baremetal-m4f", "--seed", "0",
                               "-o", str(bundle)]) == 0
        clean = digits()
        samples = encode_samples(clean.x[:N_SAMPLES].reshape(N_SAMPLES, -1), clean.y[:N_SAMPLES])
        print("digits MLP, batch 32, %d samples, %d iterations; bundle %d B + samples %d B"
              % (N_SAMPLES, args.iterations, bundle.stat().st_size, len(samples)), flush=True)
        print("%-18s %10s %9s %14s %15s" % ("board", "flash KiB/s", "train it/s",
                                           "core insns/it", "agent insns/it"), flush=True)
        rows = {}
        for target in targets:
            work = Path(tmp) / target
            work.mkdir()
            row = rows[target] = measure(target, bundle, args.iterations, work)
            print("%-18s %10.1f %9.1f %14s %15s" % (
                target, row["kib_s"], row["it_s"], _count(row["core"]), _count(row["agent"])),
                flush=True)
        if "micropython-m4f" in rows:
            ram_table(rows["micropython-m4f"]["elf"], rows["micropython-m4f"]["heap"], bundle)
    return 0


def _count(value):
    return "-" if value is None else "{:,.0f}".format(value)


if __name__ == "__main__":
    sys.exit(main())
