"""The firmware under QEMU driven by the unchanged host tools: flash -> train
-> pull gives the host's `microtrain train` weights bit for bit (digits MLP on
Cortex-M4F and M3, digits CNN with and without swap); a power cut mid-training
resumes to the same weights; a bundle too big for the 224 KiB arena is refused
in one line and the old bundle stays."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from board import checkpoint
from core_cy._core import KERNEL_ABI_VERSION
from host_tools.cli import main
from host_tools.data import digits
from host_tools.device.targets import BAREMETAL_FLASH_BYTES, BAREMETAL_RAM_BYTES
from host_tools.errors import UserError
from protocol import messages as m
from firmware_fixtures import boot, client, train_through_host_tools

REPO = Path(__file__).resolve().parents[1]
MLP = REPO / "examples" / "digits_mlp.ini"
CNN = REPO / "examples" / "digits_cnn.ini"
SEED, EPOCHS, N_SAMPLES = 7, 2, 320


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Bundle (no DATA), the samples npz and the host's reference weights."""
    path = tmp_path_factory.mktemp("firmware")
    clean = digits()
    np.savez(path / "data.npz", x=clean.x[:N_SAMPLES], y=clean.y[:N_SAMPLES])
    common = ["--seed", str(SEED), "--epochs", str(EPOCHS)]
    assert main(["plan", str(MLP), "-o", str(path / "mlp.mtb"), "--target", "baremetal-m4f",
                 *common]) == 0
    assert main(["train", str(MLP), "--data", str(path / "data.npz"), *common, "--quiet",
                 "--dump-weights", str(path / "host.npz")]) == 0
    return path


def train_on_board(target, work, storage, out, bundle=None):
    """flash, samples, monitor --start, pull on a fresh board -> (INFO, pulled npz)."""
    bundle = bundle or work / "mlp.mtb"
    return train_through_host_tools(boot(target, storage), work, storage, out, bundle)


@pytest.fixture(scope="module")
def m4f_run(work):
    return train_on_board("baremetal-m4f", work, work / "m4f", work / "m4f.npz")


def test_hello_reports_the_firmware_ram_and_flash(m4f_run):
    info, _ = m4f_run
    assert info["ram_bytes"] == BAREMETAL_RAM_BYTES
    assert info["flash_bytes"] == BAREMETAL_FLASH_BYTES
    assert info["device_name"] == "microtrain-qemu-m4f"
    assert info["kernel_version"] == "abi%d" % KERNEL_ABI_VERSION


def assert_bit_identical(expected, got):
    assert sorted(expected.files) == sorted(got.files)
    for key in expected.files:
        assert expected[key].dtype == got[key].dtype and expected[key].shape == got[key].shape
        assert expected[key].tobytes() == got[key].tobytes(), key


def test_board_weights_equal_the_host_run_bit_for_bit(work, m4f_run):
    assert_bit_identical(np.load(work / "host.npz"), m4f_run[1])
    rows = (work / "m4f" / "log.csv").read_text().splitlines()
    assert rows[-1].split(",")[1] == "FINISHED"


def test_cortex_m3_soft_float_equals_the_host_run_bit_for_bit(work):
    info, m3 = train_on_board("baremetal-m3", work, work / "m3", work / "m3.npz")
    assert info["device_name"] == "microtrain-qemu-m3"
    assert_bit_identical(np.load(work / "host.npz"), m3)


def latest_checkpoint(port):
    with client(port) as c:
        blob = c.download(m.WHAT_CHECKPOINT)
    return checkpoint.decode(bytes(blob))[0]


def test_power_cut_during_training_resumes_to_the_same_weights(work, tmp_path):
    epochs, every = 12, 5   # 120 iterations, a checkpoint every 5
    bundle = tmp_path / "long.mtb"
    assert main(["plan", str(MLP), "-o", str(bundle), "--seed", str(SEED), "--epochs", str(epochs),
                 "--checkpoint-every", str(every)]) == 0
    log = tmp_path / "console.log"
    with open(log, "wb") as console:
        port, board = boot("baremetal-m4f", tmp_path / "board", stderr=console)
        try:
            with client(port) as c:
                data = np.load(work / "data.npz")
                c.upload_samples(data["x"], data["y"])
                c.flash(load_bundle(bundle))
                c.start()
                while not any(getattr(e, "iteration", 0) >= 2 * every for e in c.events):
                    c.pump(0.05)
            board.power_cut()   # mid-run, past at least one checkpoint
            port = board.start()
            deadline = time.monotonic() + 120
            while (info := latest_checkpoint(port))["state"] != m.STATE_FINISHED:
                assert time.monotonic() < deadline, info
                time.sleep(0.5)
            assert info["iteration"] == epochs * 10
            assert main(["pull", "--port", port, "--bundle", str(bundle), "-o", str(tmp_path / "cut.npz")]) == 0
        finally:
            board.stop()
    resumed = [line for line in log.read_text().splitlines() if "resumed training at iteration" in line]
    assert len(resumed) == 1 and " of 120" in resumed[0] and "iteration 0 " not in resumed[0], resumed
    assert main(["train", str(MLP), "--data", str(work / "data.npz"), "--seed", str(SEED), "--epochs",
                 str(epochs), "--quiet", "--dump-weights", str(tmp_path / "host.npz")]) == 0
    assert_bit_identical(np.load(tmp_path / "host.npz"), np.load(tmp_path / "cut.npz"))


def load_bundle(path):
    from host_tools.device.bundle_file import load_bundle as load
    return load(str(path))


def test_bundle_too_big_for_the_ram_is_refused_and_the_old_one_kept(work, tmp_path):
    big = tmp_path / "cnn.mtb"
    assert main(["plan", str(CNN), "-o", str(big)]) == 0   # arena ~430 KB > 224 KiB
    storage = tmp_path / "board"
    port, board = boot("baremetal-m4f", storage)
    try:
        assert main(["flash", "--port", port, str(work / "mlp.mtb")]) == 0
        old = (storage / "bundle.mtb").read_bytes()
        done = subprocess.run([sys.executable, "-m", "host_tools.cli", "flash", "--port", port, str(big)],
                              capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0 and len(lines) == 1, done.stderr
        assert re.search(r"needs \d+ bytes of RAM, board microtrain-qemu-m4f on .* has %d$"
                         % BAREMETAL_RAM_BYTES, lines[0]), lines[0]
        with client(port) as c:   # past the host's check: the board itself refuses
            with pytest.raises(UserError, match=r"bundle too big: its arena needs \d+ bytes of RAM, "
                                                r"this board has %d$" % BAREMETAL_RAM_BYTES):
                c.upload_blob(m.KIND_BUNDLE, big.read_bytes(), "bundle cnn.mtb")
            assert len(c.download(m.WHAT_WEIGHTS)) > 0
        assert (storage / "bundle.mtb").read_bytes() == old
    finally:
        board.stop()


@pytest.mark.parametrize("batch, swaps", [(8, False), (16, True)])
def test_digits_cnn_in_256k_equals_the_host_bit_for_bit_with_and_without_swap(work, tmp_path, batch, swaps):
    """Batch 16 needs 251 KiB of arena: planned for the board it swaps to flash."""
    common = ["--seed", str(SEED), "--epochs", "1", "--batch", str(batch)]
    bundle = tmp_path / "cnn.mtb"
    assert main(["plan", str(CNN), "-o", str(bundle), "--target", "baremetal-m4f", *common]) == 0
    assert main(["train", str(CNN), "--data", str(work / "data.npz"), *common, "--quiet",
                 "--ram-budget", str(BAREMETAL_RAM_BYTES), "--swap-file", str(tmp_path / "swap.bin"),
                 "--dump-weights", str(tmp_path / "host.npz")]) == 0
    _, pulled = train_on_board("baremetal-m4f", work, tmp_path / "board", tmp_path / "board.npz", bundle)
    assert (tmp_path / "board" / "flash.bin").exists() == swaps   # the swap store in flash
    assert_bit_identical(np.load(tmp_path / "host.npz"), pulled)
