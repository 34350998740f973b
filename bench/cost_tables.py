"""Measures the cost tables the planner's time model reads
(host_tools/planning/targets/*.json) and prints them; --write stores them
with a description of how and when they were measured.

    python bench/cost_tables.py [--targets host,baremetal-m4f,micropython] [--write]

host: the C core through core_cy's Executor on 1 thread, the FC/conv ops of
the digits MLP and CNN (batch 32) timed apart from their other ops, so
MACs/s and elements/s are separate figures; the file swap backend
(core_cy FileStorage: posix pread/pwrite on an I/O thread, page cache) for
64-byte and 1 MiB transfers: latency = the small read's and write's mean,
bandwidth = the bytes over the large transfer's extra time; a write counts
until it has landed (write + drain). Times are the fastest of several
repeats: other processes share the CPU and only ever slow it down.

baremetal-m4f: the QEMU firmware's executed instructions per op (a TCG
plugin marks the kernel call in the executor), summed over the FC/conv ops
per MAC and over the others per element, at CLOCK_HZ and CPI (stated
assumptions); flash from the named part's datasheet (QEMU has no flash
timing).

micropython: the same per-op count on the MicroPython QEMU firmware (the C
core as a native module) and, for a model planned to swap, the instructions
of the swap store's reads and writes through the VFS and littlefs per byte
(a long run minus a short one, so loading and the final checkpoint cancel;
littlefs's per-call work is folded into the per-byte figure, since it may do
a write's work at the next seek), at the same clock, plus the same flash
chip's datasheet time. About 2 minutes for all three targets."""

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.firmware import marked_run, plan_bundle  # noqa: E402
from core_cy import OP_KINDS  # noqa: E402
from core_cy._core import Executor, FileStorage, set_threads  # noqa: E402
from host_tools.device.bundle_file import load_bundle  # noqa: E402
from host_tools.device.micropython_board import MicroPythonQemuBoard  # noqa: E402
from host_tools.device.qemu_board import QemuBoard, build_firmware  # noqa: E402
from host_tools.swap.events import Action  # noqa: E402
from host_tools.cli.common import build_graph  # noqa: E402
from host_tools.model.load import load_model  # noqa: E402
from host_tools.planning.cost_model import op_work  # noqa: E402
from host_tools.planning.targets import HERE as TARGETS_DIR  # noqa: E402
from host_tools.program import build_program  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HOST_MODELS = (("digits MLP", REPO / "examples" / "digits_mlp.ini", 32),
               ("digits CNN", REPO / "examples" / "digits_cnn.ini", 32))
KEYS = ("flash_read_bytes_per_s", "flash_write_bytes_per_s", "flash_latency_s",
        "macs_per_s", "elements_per_s")


def model_graph(path, batch):
    spec = load_model(path)
    spec.batch_size = batch
    return build_graph(spec)


def split_work(graph):
    """-> (indices of FC/conv ops, their MACs, indices of the others, their elements)."""
    mac_ops, elem_ops, macs, elements = [], [], 0, 0
    for i, op in enumerate(graph.ops):
        op_macs, op_elements = op_work(graph, op)
        if op_macs:
            mac_ops.append(i)
            macs += op_macs
        else:
            elem_ops.append(i)
            elements += op_elements
    return mac_ops, macs, elem_ops, elements


def seconds_per_run(program, op_indices, seconds=1.5):
    """Seconds of one run of the program's ops `op_indices` (in order) on the C
    executor: the fastest of 5 repeats (other processes share the CPU and only
    ever slow it down), each repeat running for a fifth of `seconds`."""
    ops, table, arena, *roles = program.executor_args()
    executor = Executor(ops[op_indices], table, arena, *roles)
    executor.run()  # warm-up; arena values are irrelevant to the kernels' time
    per_run = []
    for _ in range(5):
        runs, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds / 5:
            executor.run()
            runs += 1
        per_run.append((time.perf_counter() - began) / runs)
    return min(per_run)


def host_compute():
    set_threads(1)
    totals = np.zeros(4)  # MACs, MAC seconds, elements, element seconds
    for _, path, batch in HOST_MODELS:
        graph = model_graph(path, batch)
        program = build_program(graph)
        mac_ops, macs, elem_ops, elements = split_work(program.graph)
        totals += (macs, seconds_per_run(program, mac_ops), elements,
                   seconds_per_run(program, elem_ops))
    return totals[0] / totals[1], totals[2] / totals[3]


def timed(action, repeats, chunks=10):
    """Mean seconds of `action` in the fastest of `chunks` chunks of `repeats` calls (other
    processes share the CPU and only ever slow it down)."""
    per_call = []
    for _ in range(chunks):
        began = time.perf_counter()
        for _ in range(repeats):
            action()
        per_call.append((time.perf_counter() - began) / repeats)
    return min(per_call)


def host_storage(small=64, large=1 << 20, repeats=500):
    """(read B/s, write B/s, latency s) of the file swap backend."""
    with tempfile.TemporaryDirectory(prefix="mt-bench-costs-") as tmp:
        store = FileStorage(Path(tmp) / "flash.bin", 16 * large)
        blocks = [bytes([i]) * large for i in range(16)]
        for i, block in enumerate(blocks):  # the file exists in the page cache
            store.write(i * large, block)
        store.drain()
        offsets = iter(range(10 ** 9))

        def write(size):
            at = (next(offsets) % 16) * large
            store.write(at, blocks[0][:size])
            store.drain()

        read_small = timed(lambda: store.read((next(offsets) % 16) * large, small), repeats)
        read_large = timed(lambda: store.read((next(offsets) % 16) * large, large), repeats // 10)
        write_small = timed(lambda: write(small), repeats)
        write_large = timed(lambda: write(large), repeats // 10)
        store.close()
    latency = (read_small + write_small) / 2
    return ((large - small) / (read_large - read_small),
            (large - small) / (write_large - write_small), latency)


def measure_host():
    macs_per_s, elements_per_s = host_compute()
    read, write, latency = host_storage()
    return {
        "description": (
            f"Linux host, measured {today()} by bench/cost_tables.py: FC/conv MACs/s and other "
            f"ops' elements/s through the C executor on 1 thread (digits MLP and CNN, batch 32, "
            f"FC/conv ops timed apart from the rest, fastest of 5 repeats); flash = the file swap "
            f"backend (core_cy FileStorage, pread/pwrite on its I/O thread, page cache): latency = "
            f"mean of a 64 B read and a 64 B write landed (write + drain), bandwidth from 1 MiB "
            f"transfers (fastest of 10 chunks each)"),
        "flash_read_bytes_per_s": read, "flash_write_bytes_per_s": write,
        "flash_latency_s": latency, "macs_per_s": macs_per_s, "elements_per_s": elements_per_s}


def today():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def rounded(table):
    """Three significant digits: the figures vary more than that run to run."""
    return {key: (float(f"{value:.3g}") if key in KEYS else value) for key, value in table.items()}


def check_table(name, table):
    bad = [key for key in KEYS if not (isinstance(table.get(key), float)
                                        and math.isfinite(table[key]) and table[key] > 0)]
    if bad:
        raise SystemExit(f"bench/cost_tables.py: {name}: not a positive finite figure: "
                         f"{', '.join(bad)} (measurement too noisy? run again)")


# Cortex-M4F assumptions for turning instruction counts into seconds: an
# STM32F446-class part at 180 MHz, ~1.25 cycles per instruction (FPU loads and
# multiply-adds mostly single-cycle, flash wait states hidden by the ART cache).
CLOCK_HZ, CPI = 180e6, 1.25
# Winbond W25Q128JV (datasheet rev. L) behind the F446's QUADSPI: quad I/O fast
# read at the F446's 90 MHz QSPI clock, 4 bits a clock = 45 MB/s; rewriting swap
# bytes erases 4 KiB sectors (tSE 45 ms typ) and programs 256 B pages (tPP
# 0.4 ms typ): 4096 B / (45 + 16 x 0.4 ms) = 80 KB/s; per transfer a command,
# address and dummy phase plus the driver's DMA set-up, ~10 us (assumption).
CHIP_READ_BYTES_PER_S, CHIP_WRITE_BYTES_PER_S, CHIP_LATENCY_S = 45e6, 4096 / 51.4e-3, 1e-5
FIRMWARE_MODELS = (("digits MLP", REPO / "examples" / "digits_mlp.ini", 32),
                   ("digits CNN", REPO / "examples" / "digits_cnn.ini", 8))
ITERATIONS = 4
# the plain kernels (the ones op_work counts) even under the board's RAM budget
PLAIN = ("--no-fused-update", "--no-recompute")


def call_site(elf, function, source, line):
    """(address of the call instruction in `function` that the debug line table puts at
    source:line, the address after it): the plugin's marker pair around that call."""
    out = subprocess.run(["arm-none-eabi-objdump", "-dl", f"--disassemble={function}", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    here, rows = None, out.splitlines()
    addresses = [(i, int(r.split(":")[0], 16)) for i, r in enumerate(rows)
                 if re.match(r"\s+[0-9a-f]+:", r)]
    for (i, address), (_, after) in zip(addresses, addresses[1:]):
        located = [r for r in rows[:i] if re.search(r"\.c:\d+", r)]
        here = located[-1] if located else ""
        if here.endswith(f"{source}:{line}") or f"{source}:{line} " in here:
            if re.search(r"\sbl[x]?\s", rows[i]):
                return address, after
    raise SystemExit(f"bench/cost_tables.py: no call at {source}:{line} in {function} of {elf}")


# offsetof(mt_op_info, run) on 32-bit ARM (core_cy/src/mt_ops.h): kind, name,
# max_slots, role[8], optional, n_params, n_floats, in_place_* -> 24, needs, run
RUN_OFFSET = 28


def kernel_call(elf):
    """Marker pair around the executor's `info->run(...)` (one op's kernel): by the
    debug line table, else (the MicroPython module has none) by kernel_call_by_load."""
    source = REPO / "core_cy" / "src" / "mt_exec.c"
    line = next(n for n, text in enumerate(source.read_text().splitlines(), 1)
                if "info->run(" in text)
    try:
        return call_site(elf, "run_hooked", "mt_exec.c", line)
    except SystemExit:
        return kernel_call_by_load(elf)


def kernel_call_by_load(elf):
    """The `blx rN` in run_hooked whose rN was loaded from mt_op_info's run field."""
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--disassemble=run_hooked", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    rows = [r for r in out.splitlines() if re.match(r"\s+[0-9a-f]+:", r)]
    loaded = set()
    for here, after in zip(rows, rows[1:]):
        load = re.search(rf"\sldr(?:\.w)?\s+(r\d+), \[r\d+, #{RUN_OFFSET}\]", here)
        call = re.search(r"\sblx\s+(r\d+)", here)
        if load:
            loaded.add(load.group(1))
        elif call and call.group(1) in loaded:
            return int(here.split(":")[0], 16), int(after.split(":")[0], 16)
    raise SystemExit(f"bench/cost_tables.py: no kernel call found in run_hooked of {elf}")


def mark_differences(marks):
    """stop - start of each consecutive (start, stop) pair of plugin marks."""
    pairs = [(name, value) for name, value in marks if name in ("start", "stop")]
    return [b - a for (n1, a), (n2, b) in zip(pairs[::2], pairs[1::2])
            if (n1, n2) == ("start", "stop")]


def per_op_instructions(target, elf, bundle, work, board_kind):
    """Median instructions of each op of the bundle's program over the iterations."""
    n_ops = load_bundle(bundle).view.n_ops
    marks, _ = marked_run(target, elf, bundle, kernel_call(elf), ITERATIONS, work, board_kind)
    counts = mark_differences(marks)
    if len(counts) < ITERATIONS * n_ops or len(counts) % n_ops:
        raise SystemExit(f"bench/cost_tables.py: {len(counts)} kernel calls for {ITERATIONS} "
                         f"iterations of {n_ops} ops")
    runs = np.array(counts[-ITERATIONS * n_ops:]).reshape(ITERATIONS, n_ops)
    return np.median(runs, axis=0)


def planned_graph(target, path, batch, bundle):
    """The host's graph of the bundle's program (checked op by op against it)."""
    graph = build_program(model_graph(path, batch)).graph
    kinds = [OP_KINDS[op.kind] for op in graph.ops]
    if kinds != load_bundle(bundle).view.ops["kind"].tolist():
        raise SystemExit(f"bench/cost_tables.py: {path.name}: the bundle's ops differ from "
                         f"the host's plan of it")
    return graph


def device_compute(target, elf, board_kind):
    """(instructions per MAC, per element) over FIRMWARE_MODELS on the emulated board."""
    totals = np.zeros(4)  # MACs, their instructions, elements, their instructions
    for name, path, batch in FIRMWARE_MODELS:
        with tempfile.TemporaryDirectory(prefix="mt-bench-costs-") as tmp:
            bundle = plan_bundle(target, path, batch, Path(tmp), PLAIN)
            graph = planned_graph(target, path, batch, bundle)
            insns = per_op_instructions(target, elf, bundle, Path(tmp), board_kind)
        mac_ops, macs, elem_ops, elements = split_work(graph)
        totals += (macs, insns[mac_ops].sum(), elements, insns[elem_ops].sum())
        print(f"  {target} {name}: {insns[mac_ops].sum() / macs:.2f} insns/MAC, "
              f"{insns[elem_ops].sum() / elements:.2f} insns/element", file=sys.stderr)
    return totals[1] / totals[0], totals[3] / totals[2]


def per_second(instructions):
    """Events per second when each costs `instructions` at CLOCK_HZ and CPI."""
    return CLOCK_HZ / (CPI * instructions)


def measure_baremetal():
    elf = build_firmware("baremetal-m4f")
    per_mac, per_element = device_compute("baremetal-m4f", elf, QemuBoard)
    return {
        "description": (
            f"Cortex-M4F, compute measured {today()} by bench/cost_tables.py: the QEMU firmware's "
            f"executed instructions per FC/conv MAC ({per_mac:.2f}) and per element of the other "
            f"ops ({per_element:.2f}) over the digits MLP and CNN, converted at {CLOCK_HZ / 1e6:g} "
            f"MHz and {CPI} cycles per instruction (assumed, STM32F446 class); flash = Winbond "
            f"W25Q128JV datasheet on QUADSPI at 90 MHz (not measured, QEMU has no flash timing): "
            f"45 MB/s quad reads, writes 4 KiB sector erase 45 ms + 16 page programs 0.4 ms "
            f"(typ.), 10 us per transfer (command phase and DMA set-up, assumed)"),
        "flash_read_bytes_per_s": CHIP_READ_BYTES_PER_S,
        "flash_write_bytes_per_s": CHIP_WRITE_BYTES_PER_S, "flash_latency_s": CHIP_LATENCY_S,
        "macs_per_s": per_second(per_mac), "elements_per_s": per_second(per_element)}


SWAP_MODEL = ("digits CNN", REPO / "examples" / "digits_cnn.ini", 8)


def callee_site(elf, function, callee):
    """(address of `function`'s `bl <callee>`, the address after it)."""
    out = subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={function}", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    rows = [r for r in out.splitlines() if re.match(r"\s+[0-9a-f]+:", r)]
    for here, after in zip(rows, rows[1:]):
        if re.search(rf"\bbl\s+[0-9a-f]+ <{callee}>", here):
            return int(here.split(":")[0], 16), int(after.split(":")[0], 16)
    raise SystemExit(f"bench/cost_tables.py: no call of {callee} in {function} of {elf}")


def store_instructions(target, elf, bundle, function, iterations, work, board_kind):
    """Instructions of every call of `function`'s transfer over a run of `iterations`."""
    work.mkdir()
    marks, _ = marked_run(target, elf, bundle, callee_site(elf, function, "transfer"),
                          iterations, work, board_kind)
    return sum(mark_differences(marks))


def store_rates(target, elf, work, board_kind, short=1, long=ITERATIONS):
    """{"read"|"write": instructions per byte} of the swap store (the VFS and littlefs
    under the C core's storage interface) for SWAP_MODEL planned at half its arena: the
    difference between a run of `long` and one of `short` iterations (so loading the
    INIT values and the final checkpoint cancel out) over the schedule's bytes. littlefs
    may do a write's work at the next seek: the read/write split is littlefs's own."""
    _, path, batch = SWAP_MODEL
    budget = build_program(model_graph(path, batch)).arena_bytes // 2
    bundle = plan_bundle(target, path, batch, work, PLAIN + ("--ram-budget", str(budget)))
    events = load_bundle(bundle).view.swap_events
    rates = {}
    for kind, action, function in (("read", Action.READ_START, "mt_stream_storage_read"),
                                   ("write", Action.WRITE, "mt_stream_storage_write")):
        per_iteration = sum(int(e["nbytes"]) for e in events if e["action"] == action)
        counts = [store_instructions(target, elf, bundle, function, n, work / f"{kind}{n}",
                                     board_kind) for n in (short, long)]
        rates[kind] = (counts[1] - counts[0]) / (long - short) / per_iteration
        print(f"  {target} store {kind}s: {rates[kind]:.1f} insns/byte "
              f"({per_iteration} B an iteration)", file=sys.stderr)
    return rates


def measure_micropython():
    elf = MicroPythonQemuBoard.build("micropython-m4f")
    per_mac, per_element = device_compute("micropython-m4f", elf, MicroPythonQemuBoard)
    with tempfile.TemporaryDirectory(prefix="mt-bench-costs-") as tmp:
        store = store_rates("micropython-m4f", elf, Path(tmp), MicroPythonQemuBoard)
    seconds = CPI / CLOCK_HZ  # per instruction
    return {
        "description": (
            f"MicroPython on a Cortex-M4F calling the C core as a native module, measured "
            f"{today()} by bench/cost_tables.py on the QEMU MicroPython firmware: executed "
            f"instructions per FC/conv MAC ({per_mac:.2f}) and per element of the other ops "
            f"({per_element:.2f}) over the digits MLP and CNN, and per byte of the swap store "
            f"through the VFS and littlefs (the digits CNN's swap schedule at half its arena, "
            f"per training iteration, per-call costs included: {store['read']:.1f} per byte "
            f"read, {store['write']:.1f} per byte written), converted at {CLOCK_HZ / 1e6:g} MHz and {CPI} cycles per instruction "
            f"(assumed, STM32F446 class); plus the flash chip's own time from the Winbond "
            f"W25Q128JV datasheet as for baremetal-m4f (QEMU has no flash timing)"),
        "flash_read_bytes_per_s": 1 / (store["read"] * seconds + 1 / CHIP_READ_BYTES_PER_S),
        "flash_write_bytes_per_s": 1 / (store["write"] * seconds + 1 / CHIP_WRITE_BYTES_PER_S),
        "flash_latency_s": CHIP_LATENCY_S,  # littlefs's per-call cost is in the rates
        "macs_per_s": per_second(per_mac), "elements_per_s": per_second(per_element)}


MEASURE = {"host": measure_host, "baremetal-m4f": measure_baremetal,
           "micropython": measure_micropython}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="host,baremetal-m4f,micropython")
    parser.add_argument("--write", action="store_true",
                        help="store the tables in host_tools/planning/targets/")
    args = parser.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in MEASURE]
    if unknown:
        print(f"bench/cost_tables.py: unknown target {', '.join(unknown)} "
              f"(choose from {', '.join(MEASURE)})", file=sys.stderr)
        return 2
    for name in targets:
        table = rounded(MEASURE[name]())
        check_table(name, table)
        print(f"{name}:", flush=True)
        for key in KEYS:
            print(f"  {key:<24} {table[key]:.3g}")
        print(f"  {table['description']}", flush=True)
        if args.write:
            (TARGETS_DIR / f"{name}.json").write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
