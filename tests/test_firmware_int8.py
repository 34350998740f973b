"""Bit-exact across targets: the integer MLP of tests/test_int8_step.py, flashed
as a bundle, trains three iterations on the emulated Cortex-M4F, Cortex-M3 and
the float-free Cortex-M3 build, and every parameter and optimizer state it
downloads equals, byte for byte, the host executor's after the same three
iterations; also with its weight updates fused (tests/test_int8_fused.py)."""
import struct

import numpy as np
import pytest

from firmware_fixtures import firmware, firmware_env
from host_tools.bundle.content import BundleContent, InitRecord, TrainSettings
from host_tools.bundle.layout import TENSOR_DTYPE, WHERE_ARENA
from host_tools.bundle.writer import write_bundle
from host_tools.device.bundle_file import load_bundle
from host_tools.device.client import BoardClient
from host_tools.device.progress import Progress
from host_tools.device.qemu_board import QemuBoard
from protocol import messages as m
from test_int8_fused import build_fused
from test_int8_step import IN, N, Quantized, build

ITERATIONS = 3
STATE = ("W1", "B1", "W2", "B2", "MW1", "MB1", "MW2", "MB2", "RNG")
FUSED_STATE = STATE + ("GEW1", "GEW2")   # the fused ops' gradient exponents


def bundle_of(prog, path, state=STATE):
    """The program with every tensor's current arena bytes as its initial value."""
    names = list(prog.offsets)
    table = np.zeros(len(names), TENSOR_DTYPE)
    table["offset"] = [prog.offsets[n] for n in names]
    table["nbytes"] = [prog.sizes[n] for n in names]
    arena = prog.executor.arena
    init = [InitRecord(i, WHERE_ARENA, prog.offsets[n],
                       arena[prog.offsets[n]:prog.offsets[n] + prog.sizes[n]].tobytes())
            for i, n in enumerate(names) if n in state or n.startswith(("RQ", "WS", "L"))]
    params = {n: {"tensor": prog.id(n), "shape": [prog.sizes[n]]} for n in state}
    write_bundle(path, BundleContent(
        ops=np.stack(prog.ops), tensors=table, arena_bytes=prog.end, input=prog.id("X32"),
        labels=prog.id("T"), metrics=prog.id("METRICS"), output=prog.id("P"), batch=N,
        x_numel=IN, init=init, train=TrainSettings(epochs=1), model={"params": params}))
    return load_bundle(path)


def records(blob):
    """DOWNLOAD what=weights: (u32 tensor id, u32 nbytes, bytes) per param, sorted by key."""
    out, at = {}, 0
    while at < len(blob):
        tid, nbytes = struct.unpack_from("<II", blob, at)
        out[tid] = bytes(blob[at + 8:at + 8 + nbytes])
        at += 8 + nbytes
    return out


def board_state(elf, machine_target, flashed, x, y, work):
    board = QemuBoard(machine_target, work / "board", elf=elf)
    try:
        with BoardClient(board.port) as client:
            client.hello()
            client.upload_samples(x, y)
            client.flash(flashed)
            client.start(iterations=ITERATIONS)
            while not any(isinstance(e, Progress) and e.done for e in client.events):
                client.pump(0.1)
            return records(client.download(m.WHAT_WEIGHTS))
    finally:
        board.stop()


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
@pytest.mark.parametrize("board,precision", [("m4f", "int8"), ("m3", "int8"), ("m3_fixed", "fixed")])
def test_integer_training_is_bit_exact_on_the_boards(tmp_path, board, precision, fused):
    q = Quantized(seed=1, e=1 if precision == "int8" else 2)
    prog = build_fused(q, loader=True) if fused else build(q, loader=True)
    state = FUSED_STATE if fused else STATE
    flashed = bundle_of(prog, tmp_path / "int8.mtb", state)
    before = {n: prog.get(n, np.uint8).tobytes() for n in ("W1", "MW1")}
    samples = len(q.labels)
    x = np.ascontiguousarray(q.x32).view(np.float32)      # the loader copies 4-byte samples
    y = q.labels.astype(np.int64)
    prog.executor.train(x, q.labels.view(np.uint8).reshape(samples, 4),
                        np.arange(samples, dtype=np.int32), 0, ITERATIONS)
    elf = {"m4f": lambda: firmware("baremetal-m4f"), "m3": lambda: firmware("baremetal-m3"),
           "m3_fixed": lambda: firmware_env("qemu_m3_fixed")}[board]()
    target = "baremetal-m4f" if board == "m4f" else "baremetal-m3"
    got = board_state(elf, target, flashed, x, y, tmp_path)
    for name in state:
        want = prog.get(name, np.uint8).tobytes()
        assert got[prog.id(name)] == want, name
    assert all(prog.get(n, np.uint8).tobytes() != before[n] for n in before)  # it trained
