"""Held-out accuracy on the device (issue 7): a bundle planned with a test
split carries it in the optional `test` section; the board evaluates it at
every epoch's end and reports it in PROGRESS; monitor's CSV then holds the
same accuracy per epoch as the host's `microtrain train` for the same run."""
import csv
import subprocess

import numpy as np
import pytest

from board.sim import start_board_sim
from core_cy import BundleError, read_bundle
from host_tools.bundle import layout
from host_tools.bundle.writer import assemble, content_sections
from host_tools.bundle.from_program import bundle_content
from host_tools.cli import main
from host_tools.cli.common import build_graph, plan_program
from host_tools.data import digits, load_data
from host_tools.model.load import load_model
from protocol import messages as m
from test_device_host import TINY_MLP, wait_until_up

EPOCHS = 3


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def split(tmp_path):
    """npz with a training and a held-out split (the held-out one not a multiple of the batch)."""
    clean = digits()
    path = tmp_path / "split.npz"
    np.savez(path, x=clean.x[:320], y=clean.y[:320], x_test=clean.x_test[:101],
             y_test=clean.y_test[:101])
    return path


@pytest.fixture
def planned(tmp_path, split):
    model = tmp_path / "tiny.ini"
    model.write_text(TINY_MLP)
    bundle = tmp_path / "tiny.mtb"
    assert main(["plan", str(model), "-o", str(bundle), "--data", str(split), "--seed", "3",
                 "--epochs", str(EPOCHS)]) == 0
    return model, bundle


def held_out_column(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [float(r["test_accuracy"]) for r in rows if r["test_accuracy"] not in ("", "None")]


def test_the_bundle_carries_the_test_split(planned, split):
    view = read_bundle(planned[1].read_bytes())
    data = np.load(split)
    assert view.test_dataset.x.tobytes() == data["x_test"].astype(np.float32).reshape(101, -1).tobytes()
    assert view.test_dataset.y.tolist() == data["y_test"].tolist()
    assert len(view.dataset.x) == 320


def test_monitor_reports_the_hosts_held_out_accuracy_each_epoch(tmp_path, planned, split):
    model, bundle = planned
    host_csv, board_csv = tmp_path / "host.csv", tmp_path / "board.csv"
    assert main(["train", str(model), "--data", str(split), "--seed", "3", "--epochs", str(EPOCHS),
                 "--log-csv", str(host_csv), "--quiet"]) == 0
    port, sim = start_board_sim(tmp_path / "board", stderr=subprocess.DEVNULL)
    try:
        wait_until_up(port).close()
        assert main(["flash", "--port", port, str(bundle)]) == 0
        assert main(["monitor", "--port", port, "--start", "--no-live", "--csv", str(board_csv),
                     "--png", str(tmp_path / "curves.png")]) == 0
    finally:
        sim.stop()
    host, board = held_out_column(host_csv), held_out_column(board_csv)
    assert len(host) == len(board) == EPOCHS
    # the wire carries float32; the count of right answers out of 101 is exact
    assert [np.float32(a) for a in host] == [np.float32(b) for b in board]
    assert [round(a * 101) for a in host] == [round(b * 101) for b in board]
    assert all(abs(a * 101 - round(a * 101)) < 1e-4 for a in board)


def test_bundles_without_a_test_section_still_read(planned, split):
    sections = _sections(planned[0], split)
    assert assemble(sections) == planned[1].read_bytes()   # what plan wrote
    old = [s for s in sections if s[0] != layout.TAG_TEST]
    assert read_bundle(assemble(old)).test_dataset is None


def test_a_test_section_that_does_not_match_the_program_is_refused(planned, split):
    sections = _sections(planned[0], split)
    bad = [(tag, payload[:-4] if tag == layout.TAG_TEST else payload) for tag, payload in sections]
    with pytest.raises(BundleError, match="section test: .* do not hold 101 samples"):
        read_bundle(assemble(bad))


def _sections(model, split):
    class Args:
        planner, ram_budget, lookahead = "best", None, 4
    program = plan_program(Args(), build_graph(load_model(model)))
    content = bundle_content(program, seed=3, epochs=EPOCHS, data=load_data(str(split)))
    return content_sections(content)


def test_progress_carries_the_optional_field_and_parses_without_it():
    fields = dict(state=0, epoch=1, iteration=2, total_iterations=3, loss=0.5, accuracy=0.25,
                  samples_per_s=1.0, arena_bytes=4, swap_read_bytes=0, swap_written_bytes=0)
    old = m.encode(m.PROGRESS, **fields)
    new = m.encode(m.PROGRESS, **fields, test_accuracy=0.75)
    assert len(new) == len(old) + 4
    assert m.decode(m.PROGRESS, old)["test_accuracy"] is None
    assert m.decode(m.PROGRESS, new)["test_accuracy"] == 0.75
    with pytest.raises(ValueError):
        m.decode(m.PROGRESS, new + b"\0")
