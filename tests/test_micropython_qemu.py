"""The board agent on the MicroPython firmware under QEMU (micropython-m4f, Cortex-M4F;
micropython-m3 for the MLP), driven by the unchanged host tools: flash -> train -> pull gives
the host's `microtrain train` weights bit for bit for the digits MLP and the digits CNN with
swap; a power cut mid-run, then a reboot, resumes from the littlefs checkpoint to the same
final weights."""

import re
import time
from pathlib import Path

import numpy as np
import pytest

from board import checkpoint
from host_tools.cli import main
from host_tools.data import digits
from host_tools.device.bundle_file import load_bundle
from host_tools.device.targets import (BAREMETAL_RAM_BYTES, MICROPYTHON_ARENA_BYTES,
                                      MICROPYTHON_QEMU_HEAP)
from protocol import messages as m
from firmware_fixtures import client, train_through_host_tools
from micropython_board_fixtures import (assert_bit_identical, board_sim_answers, boot, built,
                                        host_weights)

REPO = Path(__file__).resolve().parents[1]
MLP = REPO / "examples" / "digits_mlp.ini"
CNN = REPO / "examples" / "digits_cnn.ini"
SEED, EPOCHS, N_SAMPLES = 7, 2, 320
QEMU_NAME = "microtrain-micropython"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    built("micropython-m4f")    # once per session, before any test changes the environment
    path = tmp_path_factory.mktemp("mp_qemu")
    clean = digits()
    np.savez(path / "data.npz", x=clean.x[:N_SAMPLES], y=clean.y[:N_SAMPLES])
    assert main(["plan", str(MLP), "-o", str(path / "mlp.mtb"), "--target", "micropython-m4f",
                 "--seed", str(SEED), "--epochs", str(EPOCHS)]) == 0
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # `pull`'s last bundle


def train_on_board(target, work, storage, out, bundle):
    """samples, flash, monitor --start, pull on a fresh board -> (INFO, pulled npz)."""
    return train_through_host_tools(boot(target, storage), work, storage, out, bundle)


@pytest.mark.parametrize("target", ["micropython-m4f", "micropython-m3"])
def test_digits_mlp_on_the_board_equals_the_host_bit_for_bit(work, target):
    storage = work / target
    info, pulled = train_on_board(target, work, storage, work / (target + ".npz"), work / "mlp.mtb")
    assert info["ram_bytes"] == MICROPYTHON_ARENA_BYTES and info["device_name"] == QEMU_NAME
    assert (storage / "flash.img").exists()     # the littlefs image, not loose host files
    assert not (storage / "bundle.mtb").exists()
    expected = host_weights(MLP, work / "data.npz", work / "host_mlp.npz", "--seed", str(SEED),
                            "--epochs", str(EPOCHS))
    assert_bit_identical(expected, pulled)


def test_digits_cnn_with_swap_equals_the_host_bit_for_bit(work, tmp_path):
    """Batch 16 needs 251 KiB of arena; planned under 224 KiB it swaps to the board's flash."""
    common = ["--seed", str(SEED), "--epochs", "1", "--batch", "16"]
    bundle = tmp_path / "cnn.mtb"
    assert main(["plan", str(CNN), "-o", str(bundle), "--ram-budget", str(BAREMETAL_RAM_BYTES),
                 *common]) == 0
    assert load_bundle(str(bundle)).view.flash_bytes > 0
    expected = host_weights(CNN, work / "data.npz", tmp_path / "host.npz", *common, "--ram-budget",
                            str(BAREMETAL_RAM_BYTES), "--swap-file", str(tmp_path / "swap.bin"))
    _, pulled = train_on_board("micropython-m4f", work, tmp_path / "board", tmp_path / "board.npz",
                               bundle)
    assert_bit_identical(expected, pulled)


def newest_checkpoint(port):
    with client(port) as c:
        return checkpoint.decode(bytes(c.download(m.WHAT_CHECKPOINT)))[0]


def test_power_cut_during_training_resumes_to_the_same_weights(work, tmp_path):
    epochs, every = 60, 20   # 600 iterations
    bundle = tmp_path / "long.mtb"
    assert main(["plan", str(MLP), "-o", str(bundle), "--seed", str(SEED), "--epochs", str(epochs),
                 "--checkpoint-every", str(every)]) == 0
    log = tmp_path / "console.log"
    with open(log, "wb") as console:
        port, board = boot("micropython-m4f", tmp_path / "board", stderr=console)
        try:
            with client(port) as c:
                data = np.load(work / "data.npz")
                c.upload_samples(data["x"], data["y"])
                c.flash(load_bundle(str(bundle)))
                c.start()
                while not any(getattr(e, "iteration", 0) >= 3 * every for e in c.events):
                    c.pump(0.02)
            board.power_cut()   # mid-run, past at least one checkpoint
            port = board.start()
            deadline = time.monotonic() + 300
            while (info := newest_checkpoint(port))["state"] != m.STATE_FINISHED:
                assert time.monotonic() < deadline, info
                time.sleep(1)
            assert info["iteration"] == epochs * 10
            assert main(["pull", "--port", port, "--bundle", str(bundle), "-o",
                         str(tmp_path / "cut.npz")]) == 0
        finally:
            board.stop()
    resumed = [line for line in log.read_text().splitlines() if "resumed training at iteration" in line]
    assert len(resumed) == 1 and " of %d" % (epochs * 10) in resumed[0], resumed
    assert "iteration 0 " not in resumed[0], resumed
    expected = host_weights(MLP, work / "data.npz", tmp_path / "host.npz", "--seed", str(SEED),
                            "--epochs", str(epochs))
    assert_bit_identical(expected, np.load(tmp_path / "cut.npz"))


def test_the_heap_and_ram_budget_are_the_firmwares():
    """2 MiB of GC heap inside a 2.25 MiB RAM region: heap, statics and stack fit it, or
    the link fails (firmware/micropython/qemu/mps2_ram_budget.ld)."""
    text = (built("micropython-m4f").parent / "firmware.map").read_text()
    assert re.search(r"^RAM\s+0x20000000\s+0x00240000\b", text, re.M)
    heap = re.search(r"^ \.bss\.gc_heap\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", text, re.M)
    assert heap and int(heap.group(1), 16) == MICROPYTHON_QEMU_HEAP


def test_board_sim_starts_the_micropython_firmware(work, tmp_path):
    info = board_sim_answers("micropython-m4f", tmp_path)
    assert info["device_name"] == QEMU_NAME and info["ram_bytes"] == MICROPYTHON_ARENA_BYTES
