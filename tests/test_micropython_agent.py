"""The board agent (board/agent.py, unchanged) on MicroPython's unix port with the
_microtrain engine, driven over its pty by the unchanged host tools: HELLO/INFO, flash,
samples, train, pull bit-identical to the host (with and without swap), a bad bundle
refused with the old one kept, and a power cut mid-run resumed to the same weights."""

import time
from pathlib import Path

import numpy as np
import pytest

from board import checkpoint
from core_cy._core import KERNEL_ABI_VERSION
from host_tools.cli import main
from host_tools.device.bundle_file import load_bundle
from host_tools.device.micropython_board import UNIX_NAME
from host_tools.device.targets import MICROPYTHON_ARENA_BYTES
from host_tools.errors import UserError
from protocol import messages as m
from protocol.crc32 import crc32
from firmware_fixtures import client
from test_board_agent import MODEL, SEED, SWAP_BUDGET
from micropython_board_fixtures import (assert_bit_identical, board_sim_answers, boot, built,
                                        host_weights)

TARGET = "micropython-unix"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    built(TARGET)   # before any test changes the environment
    root = tmp_path_factory.mktemp("mp_agent")
    (root / "tiny.ini").write_text(MODEL)
    rng = np.random.default_rng(1)
    np.savez(root / "data.npz", x=rng.standard_normal((96, 1, 1, 12)).astype(np.float32),
             y=rng.integers(0, 4, 96))
    for name, extra in (("plain", ()), ("swap", ("--ram-budget", SWAP_BUDGET))):
        assert main(["plan", str(root / "tiny.ini"), "-o", str(root / (name + ".mtb")), "--seed",
                     str(SEED), "--checkpoint-every", "5", *extra]) == 0
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # `pull`'s last bundle


def train(port, files, bundle, out, epochs=2):
    data = np.load(files / "data.npz")
    with client(port) as c:
        c.upload_samples(data["x"], data["y"])
    assert main(["flash", "--port", port, str(bundle)]) == 0
    assert main(["monitor", "--port", port, "--start", "--epochs", str(epochs), "--no-live",
                 "--csv", str(out) + ".csv", "--png", str(out) + ".png"]) == 0
    assert main(["pull", "--port", port, "--bundle", str(bundle), "-o", str(out)]) == 0
    return np.load(out)


def test_hello_reports_the_micropython_board(files, tmp_path):
    port, board = boot(TARGET, tmp_path / "board")
    try:
        with client(port) as c:
            assert c.info["ram_bytes"] == MICROPYTHON_ARENA_BYTES
            assert c.info["device_name"] == UNIX_NAME
            assert c.info["kernel_version"] == "abi%d" % KERNEL_ABI_VERSION
            assert c.info["flash_bytes"] > 0
    finally:
        board.stop()


@pytest.mark.parametrize("bundle", ["plain", "swap"])
def test_flash_train_pull_equals_the_host_bit_for_bit(files, tmp_path, bundle):
    port, board = boot(TARGET, tmp_path / "board")
    try:
        pulled = train(port, files, files / (bundle + ".mtb"), tmp_path / "board.npz")
    finally:
        board.stop()
    expected = host_weights(files / "tiny.ini", files / "data.npz", tmp_path / "host.npz",
                            "--seed", str(SEED), "--epochs", "2")
    assert_bit_identical(expected, pulled)
    assert (tmp_path / "board" / "flash.bin").exists() == (bundle == "swap")


def test_a_bad_bundle_is_refused_and_the_old_one_kept(files, tmp_path):
    storage = tmp_path / "board"
    port, board = boot(TARGET, storage)
    try:
        assert main(["flash", "--port", port, str(files / "plain.mtb")]) == 0
        good = (storage / "bundle.mtb").read_bytes()
        bad = bytearray(good)
        bad[8:12] = b"\xff\xff\xff\xff"    # the header's section count: the C reader refuses it
        with client(port) as c:
            weights = c.download(m.WHAT_WEIGHTS)
            with pytest.raises(UserError, match="invalid bundle: "):
                c.upload_blob(m.KIND_BUNDLE, bytes(bad), "bundle bad.mtb")
            assert c.download(m.WHAT_WEIGHTS) == weights
        assert (storage / "bundle.mtb").read_bytes() == good
        assert crc32(good) != crc32(bytes(bad))
    finally:
        board.stop()


def newest_checkpoint(port):
    with client(port) as c:
        return checkpoint.decode(bytes(c.download(m.WHAT_CHECKPOINT)))[0]


def test_power_cut_during_training_resumes_to_the_same_weights(files, tmp_path):
    epochs = 300   # 3,600 iterations, a checkpoint every 5: seconds, so the cut lands mid-run
    log = tmp_path / "agent.log"
    data = np.load(files / "data.npz")
    with open(log, "wb") as agent_log:
        port, board = boot(TARGET, tmp_path / "board", stderr=agent_log)
        try:
            with client(port) as c:
                c.upload_samples(data["x"], data["y"])
                c.flash(load_bundle(str(files / "swap.mtb")))
                c.start(epochs=epochs)
                while not any(getattr(e, "iteration", 0) >= 50 for e in c.events):
                    c.pump(0.01)
            board.power_cut()   # mid-run, past several checkpoints
            board.start()
            deadline = time.monotonic() + 120
            while (info := newest_checkpoint(port))["state"] != m.STATE_FINISHED:
                assert time.monotonic() < deadline, info
                time.sleep(0.3)
            assert info["iteration"] == epochs * 12
            assert main(["pull", "--port", port, "--bundle", str(files / "swap.mtb"),
                         "-o", str(tmp_path / "cut.npz")]) == 0
        finally:
            board.stop()
    resumed = [line for line in log.read_text().splitlines() if "resumed training at iteration" in line]
    assert len(resumed) == 1 and " of %d" % (epochs * 12) in resumed[0], resumed
    expected = host_weights(files / "tiny.ini", files / "data.npz", tmp_path / "host.npz",
                            "--seed", str(SEED), "--epochs", str(epochs))
    assert_bit_identical(expected, np.load(tmp_path / "cut.npz"))


@pytest.mark.parametrize("argv, message", [
    (["--storage", "/tmp"], "--port is required"),
    (["--port", "fd:0", "--storage", "/tmp", "--ram-limit", "big"], "--ram-limit wants an integer"),
    (["--port", "fd:0", "--storage", "/tmp", "--max-resumes", "-1"], "--max-resumes must be 0 or more"),
    (["--port", "com1", "--storage", "/tmp"], "port com1: use fd:N"),
    (["--port", "fd:0", "--storage", "/tmp", "--engine", "no_such_engine"], "no_such_engine"),
    (["--port", "fd:0", "--speed", "9"], "unknown option --speed"),
])
def test_bad_arguments_are_one_line_and_status_2(files, argv, message):
    import os
    import subprocess
    done = subprocess.run([str(built(TARGET)), "-m", "board.mp_main", *argv], capture_output=True,
                          text=True, env=dict(os.environ, MICROPYPATH=str(Path(__file__).parents[1])),
                          timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr


def test_the_console_as_the_port_serves_the_protocol(files, tmp_path):
    """--port stdio, as on a real board's USB console: frames on stdin/stdout, logs dropped."""
    import os
    import subprocess
    import tty
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    storage = tmp_path / "board"
    storage.mkdir()
    agent = subprocess.Popen([str(built(TARGET)), "-m", "board.mp_main", "--port", "stdio",
                              "--storage", str(storage)], stdin=master, stdout=master,
                             stderr=subprocess.PIPE, env=dict(os.environ, MICROPYPATH=str(
                                 Path(__file__).parents[1])))
    try:
        port = os.ttyname(slave)
        with client(port) as c:
            assert c.info["kernel_version"] == "abi%d" % KERNEL_ABI_VERSION
            c.flash(load_bundle(str(files / "plain.mtb")))
            assert len(c.download(m.WHAT_WEIGHTS)) > 0
        assert (storage / "bundle.mtb").read_bytes() == (files / "plain.mtb").read_bytes()
    finally:
        agent.kill()
        agent.wait()
        os.close(master)
        os.close(slave)
    assert agent.stderr.read() == b""


def test_board_sim_starts_the_unix_port(files, tmp_path):
    info = board_sim_answers(TARGET, tmp_path)
    assert info["device_name"] == UNIX_NAME and info["ram_bytes"] == MICROPYTHON_ARENA_BYTES
