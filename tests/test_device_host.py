"""Host device tools (host_tools/device, `microtrain flash|monitor|pull|demo`)
against the real board agent (`python -m board`) in its own process.

- board training = host training, bit for bit (same bundle, data, seed);
- 20 bundles through a noisy line all arrive intact, a bad one never lands;
- bad input and dead boards end in one line on stderr, never a hang;
- the monitor writes its CSV and PNG; the demo personalises.
"""
import os
import re
import select
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from protocol import messages as m
from board.noisy_line import NoisyLine
from board.sim import start_board_sim
from host_tools.bundle import write_bundle
from host_tools.bundle.from_program import bundle_content
from host_tools.cli import main
from host_tools.cli.common import build_graph, plan_program
from host_tools.data import digits
from host_tools.device.bundle_file import load_bundle
from host_tools.device.client import BoardClient
from host_tools.errors import UserError
from host_tools.model.load import load_model

REPO = Path(__file__).resolve().parents[1]
TINY_MLP = """\
[Model]
type = NeuralNetwork
loss = cross
batch_size = 16
epochs = 2

[Optimizer]
type = adam
learning_rate = 0.005

[input]
type = input
input_shape = 1:8:8

[flatten]
type = flatten

[hidden]
type = fully_connected
unit = 16
activation = relu

[output]
type = fully_connected
unit = 10
activation = softmax
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    # `flash` records the last bundle under XDG_CACHE_HOME; keep tests off ~/.cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def tiny_model(tmp_path):
    path = tmp_path / "tiny.ini"
    path.write_text(TINY_MLP)
    return path


@pytest.fixture
def board(tmp_path):
    port, sim = start_board_sim(tmp_path / "board", stderr=subprocess.DEVNULL)
    yield port, sim
    sim.stop()


def wait_until_up(port, seconds=20.0, **client_options):
    """A freshly started agent needs a moment to import; HELLO until it answers."""
    deadline = time.monotonic() + seconds
    while True:
        client = BoardClient(port, **client_options)
        try:
            client.hello()
            return client
        except UserError:
            client.close()
            if time.monotonic() > deadline:
                raise


# ---- the whole workflow, bit for bit ---------------------------------------

def test_board_training_equals_host_training_bit_for_bit(tmp_path, board, tiny_model):
    port, sim = board
    clean = digits()
    x, y = clean.x[:400], clean.y[:400]
    np.savez(tmp_path / "data.npz", x=x, y=y)
    bundle = tmp_path / "tiny.mtb"
    common = ["--seed", "5", "--epochs", "3"]
    assert main(["plan", str(tiny_model), "-o", str(bundle), *common]) == 0
    assert main(["train", str(tiny_model), "--data", str(tmp_path / "data.npz"), *common,
                 "--dump-weights", str(tmp_path / "host.npz"), "--quiet"]) == 0
    wait_until_up(port).close()

    assert main(["flash", "--port", port, str(bundle)]) == 0
    with BoardClient(port) as client:
        client.hello()
        client.upload_samples(x, y)
    csv, png = tmp_path / "log.csv", tmp_path / "curves.png"
    assert main(["monitor", "--port", port, "--start", "--no-live", "--csv", str(csv),
                 "--png", str(png)]) == 0
    assert main(["pull", "--port", port, "-o", str(tmp_path / "board.npz")]) == 0  # last bundle

    host, pulled = np.load(tmp_path / "host.npz"), np.load(tmp_path / "board.npz")
    assert sorted(host.files) == sorted(pulled.files) == [
        "hidden:bias", "hidden:weight", "output:bias", "output:weight"]
    for key in host.files:
        assert host[key].dtype == pulled[key].dtype and host[key].shape == pulled[key].shape
        assert host[key].tobytes() == pulled[key].tobytes(), key
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("time_s,state,epoch,iteration,total_iterations,loss,accuracy")
    last = rows[-1].split(",")
    assert last[1] == "FINISHED" and last[3] == last[4] == str(3 * (400 // 16))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- a noisy line ------------------------------------------------------------

def tiny_bundles(model_path, directory, count):
    """`count` different valid bundles (different seeds) of a small model."""
    program = plan_program(_PlanArgs(), build_graph(load_model(model_path)))
    for seed in range(count):
        path = directory / f"tiny-{seed}.mtb"
        write_bundle(path, bundle_content(program, seed=seed, epochs=1))
        yield load_bundle(path)


class _PlanArgs:
    planner, ram_budget, lookahead = "best", None, 4


def test_twenty_uploads_through_a_noisy_line_all_verify(tmp_path, tiny_model):
    storage = tmp_path / "board"
    port, sim = start_board_sim(storage, stderr=subprocess.DEVNULL)
    bridge = NoisyLine(port, rate=0.01, seed=7, kinds=("drop", "flip"))
    stored = storage / "bundle.mtb"
    started, sent = time.monotonic(), 0
    try:
        client = wait_until_up(bridge.port_path, retries=25)
        for bundle in tiny_bundles(tiny_model, tmp_path, 20):
            client.flash(bundle)
            assert zlib.crc32(stored.read_bytes()) == zlib.crc32(bundle.data)
            sent += len(bundle.data)
        rate = sent / (time.monotonic() - started)
        good = stored.read_bytes()
        broken = bytearray(good)
        broken[len(broken) // 2] ^= 0x40       # a valid transfer of an invalid bundle
        with pytest.raises(UserError, match="rejected bundle.*invalid bundle"):
            client.upload_blob(m.KIND_BUNDLE, bytes(broken), "bundle broken.mtb")
        assert stored.read_bytes() == good     # the old bundle stays
        client.close()
    finally:
        bridge.close()
        sim.stop()
    hits = sum(bridge.hits.values())
    print(f"\nnoisy line: {sent} bytes of bundles at {rate / 1024:.1f} KiB/s, "
          f"{hits} bytes hit, host link {client.link.stats}")
    assert hits > 500


# ---- bad input and dead boards: one line, bounded time -------------------------

def run_cli(*args, timeout=30):
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-m", "host_tools.cli", *map(str, args)],
                             capture_output=True, text=True, timeout=timeout)
    return process, time.monotonic() - started


def assert_one_line_error(process, pattern):
    assert process.returncode != 0
    assert "Traceback" not in process.stderr, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_bad_input_gives_one_line_errors(tmp_path, tiny_model):
    bundle = next(tiny_bundles(tiny_model, tmp_path, 1))
    process, _ = run_cli("flash", "--port", "/dev/no-such-tty", bundle.path)
    assert_one_line_error(process, r"^microtrain: error: cannot open /dev/no-such-tty: ")
    process, _ = run_cli("flash", "--port", "/dev/no-such-tty", REPO / "README.md")
    assert_one_line_error(process, r"README.md is not a microtrain bundle: bad magic")
    process, _ = run_cli("pull", "--port", "/dev/no-such-tty", "-o", tmp_path / "w.npz")
    assert_one_line_error(process, r"no --bundle given")

    port, sim = start_board_sim(tmp_path / "small", ram_limit=4096, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(port).close()
        process, _ = run_cli("flash", "--port", port, bundle.path)
        assert_one_line_error(process, rf"bundle .* needs {bundle.arena_bytes} bytes of RAM, "
                                       rf"board microtrain-sim on {port} has 4096$")
        process, seconds = run_cli("monitor", "--port", port, "--no-live", "--idle-timeout", "1",
                                   "--csv", tmp_path / "idle.csv", "--png", tmp_path / "idle.png")
        assert_one_line_error(process, r"no training progress from board microtrain-sim")
        assert seconds < 15
    finally:
        sim.stop()


def test_a_board_that_stops_answering_is_reported_not_waited_for(tmp_path, tiny_model, board):
    port, sim = board
    bundle = next(tiny_bundles(tiny_model, tmp_path, 1))
    wait_until_up(port).close()
    assert main(["flash", "--port", port, bundle.path]) == 0
    # Training that would run for minutes; freeze the board while it is watched.
    clean = digits()
    with BoardClient(port) as client:
        client.hello()
        client.upload_samples(clean.x[:64], clean.y[:64])
    monitor = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli", "monitor", "--port", port, "--start",
         "--epochs", "60000", "--no-live", "--csv", str(tmp_path / "cut.csv"),
         "--png", str(tmp_path / "cut.png")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_file_or_progress(monitor, seconds=15)
        os.kill(sim.pid, signal.SIGSTOP)
        started = time.monotonic()
        out, err = monitor.communicate(timeout=30)
        assert time.monotonic() - started < 15
        assert_one_line_error(subprocess.CompletedProcess([], monitor.returncode, out, err),
                              rf"board on {re.escape(port)} stopped answering")
        assert (tmp_path / "cut.csv").read_text().count("RUNNING") >= 1   # saved anyway
        for command in (["flash", "--port", port, bundle.path],
                        ["pull", "--port", port, "--bundle", bundle.path, "-o", tmp_path / "w.npz"]):
            process, seconds = run_cli(*command)
            assert_one_line_error(process, rf"board on {re.escape(port)} stopped answering")
            assert seconds < 10
    finally:
        os.kill(sim.pid, signal.SIGCONT)
        if monitor.poll() is None:
            monitor.kill()
            monitor.communicate()


def _wait_for_file_or_progress(process, seconds):
    """Until the monitor has printed its first epoch line (training runs)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready and process.stdout.readline().startswith("RUNNING"):
            return
        assert process.poll() is None, process.stderr.read()
    raise AssertionError("the monitor showed no progress")


# ---- the demo -------------------------------------------------------------------

def test_demo_personalises_and_reports_before_and_after(tmp_path):
    process, seconds = run_cli("demo", "--workdir", tmp_path / "demo", "--no-live",
                               "--epochs", "10", "--pretrain-epochs", "10", timeout=90)
    assert process.returncode == 0, process.stderr
    found = re.search(r"accuracy ([\d.]+)% before personalisation, ([\d.]+)% after",
                      process.stdout)
    assert found, process.stdout
    before, after = map(float, found.groups())
    assert after > before + 20
    for name in ("digits_mlp.mtb", "pretrained.npz", "personal.npz", "training-log.csv",
                 "training-curves.png"):
        assert (tmp_path / "demo" / name).exists(), name
    print(f"\ndemo: {before}% -> {after}% in {seconds:.1f} s")
