"""The device subcommands from the command line: `samples` in the whole
workflow (bit for bit against the host), the CSV `train` and `monitor` share,
a frozen board, a bundle without weight shapes."""
import csv
import io
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from board.sim import start_board_sim
from host_tools.bundle import write_bundle
from host_tools.bundle.from_program import bundle_content
from host_tools.cli import main
from host_tools.cli.common import build_graph, plan_program
from host_tools.data import digits
from host_tools.device.client import BoardClient
from host_tools.device.progress import Progress
from host_tools.errors import UserError
from host_tools.model.load import load_model

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "examples" / "digits_mlp.ini"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # flash's last-bundle record


@pytest.fixture
def board(tmp_path):
    port, sim = start_board_sim(tmp_path / "board", stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:     # the agent needs a moment to import
        try:
            with BoardClient(port) as client:
                client.hello()
            break
        except UserError:
            if time.monotonic() > deadline:
                raise
    yield port, sim
    sim.stop()


def run_cli(*argv):
    """main() in-process -> (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def assert_one_line(code, err, words):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and words in lines[0], err


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_samples_command_trains_the_board_bit_for_bit_like_the_host(tmp_path, board):
    port, _ = board
    clean = digits()
    np.savez(tmp_path / "data.npz", x=clean.x[:320], y=clean.y[:320])
    common = ["--epochs", "2", "--seed", "7"]
    assert run_cli("plan", MLP, "-o", tmp_path / "b.mtb", *common)[0] == 0
    assert run_cli("train", MLP, "--data", tmp_path / "data.npz", *common, "--quiet",
                   "--dump-weights", tmp_path / "host.npz", "--log-csv", tmp_path / "host.csv",
                   "--plot", tmp_path / "host.png")[0] == 0
    assert run_cli("flash", "--port", port, tmp_path / "b.mtb")[0] == 0
    code, out, err = run_cli("samples", "--port", port, tmp_path / "data.npz")
    assert code == 0, err
    assert "accepted 320 samples" in out and "KiB/s" in out
    assert run_cli("monitor", "--port", port, "--start", "--no-live", "--csv",
                   tmp_path / "board.csv", "--png", tmp_path / "board.png")[0] == 0
    assert run_cli("pull", "--port", port, "-o", tmp_path / "board.npz")[0] == 0

    with np.load(tmp_path / "host.npz") as host, np.load(tmp_path / "board.npz") as pulled:
        assert sorted(host.files) == sorted(pulled.files) and len(host.files) == 4
        for key in host.files:
            assert host[key].tobytes() == pulled[key].tobytes(), key
    host_rows, board_rows = read_csv(tmp_path / "host.csv"), read_csv(tmp_path / "board.csv")
    assert list(host_rows[0]) == list(board_rows[0]) == [f.name for f in
                                                         Progress.__dataclass_fields__.values()]
    for rows in (host_rows, board_rows):    # 2 epochs of 320 // 32 iterations, same results
        assert (rows[-1]["state"], rows[-1]["iteration"], rows[-1]["total_iterations"]) == \
            ("FINISHED", "20", "20")
    # the board sends float32 figures
    assert np.float32(host_rows[-1]["accuracy"]) == np.float32(board_rows[-1]["accuracy"])
    assert float(host_rows[-1]["loss"]) == pytest.approx(float(board_rows[-1]["loss"]), rel=1e-6)
    for png in ("host.png", "board.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_log_has_a_held_out_accuracy_per_epoch(tmp_path):
    code, out, err = run_cli("train", MLP, "--epochs", "3", "--quiet",
                             "--log-csv", tmp_path / "log.csv")
    assert code == 0, err
    printed = [line.split("test acc ")[1] for line in out.splitlines()
               if line.startswith("epoch ")]
    rows = read_csv(tmp_path / "log.csv")
    held_out = [f"{100 * float(r['test_accuracy']):.2f}%" for r in rows if r["test_accuracy"]]
    assert held_out == printed and len(printed) == 3
    assert [int(r["iteration"]) for r in rows] == sorted(int(r["iteration"]) for r in rows)
    assert rows[-1]["state"] == "FINISHED" and rows[-1]["iteration"] == str(3 * (1437 // 32))


def test_plan_and_train_print_one_op_count_and_one_no_reuse_figure(tmp_path):
    _, planned, _ = run_cli("plan", MLP)
    _, trained, _ = run_cli("train", MLP, "--iterations", "1", "--quiet")
    ops = planned.split("batch 32  ")[1].split(" ops")[0]
    assert f": {ops} ops," in trained
    no_reuse = [line.split()[1] for line in planned.splitlines()
                if line.split()[:1] == ["no-reuse"]]
    assert len(no_reuse) == 2 and no_reuse[0] == no_reuse[1]  # the headline and planner row


def test_monitor_reports_a_frozen_board_before_drawing(tmp_path, board):
    port, sim = board
    assert run_cli("plan", MLP, "--data", "digits", "--epochs", "5000", "-o",
                   tmp_path / "long.mtb")[0] == 0
    assert run_cli("flash", "--port", port, tmp_path / "long.mtb")[0] == 0
    monitor = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli", "monitor", "--port", port, "--start",
         "--no-live", "--csv", tmp_path / "log.csv", "--png", tmp_path / "curves.png"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        while "RUNNING" not in monitor.stdout.readline():   # training is under way
            assert monitor.poll() is None, monitor.stderr.read()
        os.kill(sim.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        out, err = monitor.communicate(timeout=60)
        print(f"\nmonitor on a frozen board: exit {monitor.returncode} "
              f"{time.monotonic() - frozen:.2f} s after the freeze")
    finally:
        os.kill(sim.pid, signal.SIGCONT)
        monitor.kill()
    assert_one_line(monitor.returncode, err, f"board on {port} stopped answering")
    assert read_csv(tmp_path / "log.csv")[-1]["state"] == "RUNNING"
    assert not (tmp_path / "curves.png").exists()


def without_params_bundle(path):
    graph = build_graph(load_model(MLP))
    content = bundle_content(plan_program(type("A", (), {"planner": "best"})(), graph))
    del content.model["params"]
    write_bundle(path, content)


def test_pull_refuses_a_bundle_without_weight_shapes_before_the_port(tmp_path):
    without_params_bundle(tmp_path / "bare.mtb")
    code, _, err = run_cli("pull", "--port", "/dev/no-such-tty", "--bundle", tmp_path / "bare.mtb")
    assert_one_line(code, err, "has no weight names and shapes")


@pytest.mark.parametrize("argv, words", [
    (["train", MLP, "--iterations", "1", "--dump-weights", "{missing}/w.npz"],
     "does not exist"),
    (["train", MLP, "--iterations", "1", "--log-csv", "{missing}/log.csv"],
     "does not exist"),
    (["train", MLP, "--iterations", "1", "--ram-budget", "70K", "--swap-file",
      "{missing}/swap.bin"], "cannot open swap file"),
    (["plan", MLP, "-o", "{missing}/b.mtb"], "does not exist"),
    (["plan", MLP, "--timeline", "{missing}/t.png"], "does not exist"),
    (["plan", "{latin1}"], "not a UTF-8 text file"),
    (["demo", "--workdir", "{file}/demo"], "Not a directory"),
    (["train", MLP, "--iterations", "1", "--dump-weights", "/proc/version"],    # at write time
     "/proc/version.npz: No such file or directory"),
    (["monitor", "--port", "/dev/no-such-tty", "--csv", "{missing}/log.csv"], "does not exist"),
    (["pull", "--port", "/dev/no-such-tty", "-o", "{missing}/w.npz"], "does not exist"),
])
def test_file_errors_are_one_line(tmp_path, argv, words):
    (tmp_path / "latin1.ini").write_bytes("[Model]\ntype = caf\xe9\n".encode("latin-1"))
    (tmp_path / "file").write_text("")
    names = {"missing": tmp_path / "missing", "latin1": tmp_path / "latin1.ini",
             "file": tmp_path / "file"}
    code, _, err = run_cli(*(str(a).format(**names) for a in argv))
    assert_one_line(code, err, words)


def test_samples_command_quantizes_for_a_fixed_bundle(tmp_path, board):
    """A fixed bundle reads int32 codes: `samples` quantizes x with the bundle's
    input scale (the last flashed bundle), so the board trains bit for bit like
    `train --precision fixed` on the host; the codes are those `train` encodes."""
    from host_tools.bundle.from_program import model_description
    from host_tools.data import encode
    from host_tools.device.sample_codes import board_samples
    port, _ = board
    clean = digits()
    np.savez(tmp_path / "data.npz", x=clean.x[:320], y=clean.y[:320])
    common = ["--epochs", "1", "--seed", "7", "--precision", "fixed", "--data",
              tmp_path / "data.npz"]
    assert run_cli("plan", MLP, "-o", tmp_path / "b.mtb", *common)[0] == 0
    assert run_cli("train", MLP, *common, "--quiet", "--dump-weights", tmp_path / "host.npz")[0] == 0
    assert run_cli("flash", "--port", port, tmp_path / "b.mtb")[0] == 0
    code, out, err = run_cli("samples", "--port", port, tmp_path / "data.npz")
    assert code == 0 and "warning" not in err, err
    assert run_cli("monitor", "--port", port, "--start", "--no-live", "--csv",
                   tmp_path / "board.csv", "--png", tmp_path / "board.png")[0] == 0
    assert run_cli("pull", "--port", port, "-o", tmp_path / "board.npz")[0] == 0
    with np.load(tmp_path / "host.npz") as host, np.load(tmp_path / "board.npz") as pulled:
        assert set(pulled.files) <= set(host.files) and "hidden:weight#q" in pulled.files
        for key in pulled.files:   # the host's dump adds the activation scales
            assert host[key].tobytes() == pulled[key].tobytes(), key

    spec = load_model(MLP)
    spec.precision = "fixed"
    from host_tools.quantize.prepare import quantized_graph
    graph, _ = quantized_graph(spec, 0, clean, None, 7)
    from host_tools.program import build_program
    program = build_program(graph)
    codes = board_samples(clean.x[:64], model_description(program))
    rows, _ = encode(clean.x[:64], clean.y[:64], graph)
    assert codes.shape == clean.x[:64].shape
    assert codes.reshape(64, -1).view(np.int32).tobytes() == rows.view(np.int32).tobytes()
    float_x = clean.x[:8]   # int8: the program quantizes, samples stay float
    assert board_samples(float_x, {"precision": "int8", "input_pre_quantized": False}) is float_x
