"""Kernel threads split only output rows/columns, each element summed in the
canonical order: weights after training are bit-identical for 1, 2, 3 and 4
threads (a 784-256-10 MLP big enough to be split, and the digits models
through `microtrain train --threads N`)."""
from pathlib import Path

import numpy as np
import pytest

from core_cy._core import set_threads, thread_count
from host_tools.cli import main
from host_tools.cli.common import label_kind_for
from host_tools.data import encode
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.program import build_program
from host_tools.session import Session

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread_afterwards():
    yield
    set_threads(1)


def _mlp_weights(threads):
    model = Model(loss="cross", batch_size=32, optimizer={"type": "adam", "learning_rate": 0.01})
    model.add("in", "input", input_shape="1:1:784")
    model.add("fc1", "fully_connected", unit=256, activation="relu")
    model.add("fc2", "fully_connected", unit=10, activation="softmax")
    spec = model.spec()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((96, 1, 1, 784)).astype(np.float32)
    y = rng.integers(0, 10, 96)
    graph = build_training_graph(spec, label_kind_for(spec, y))
    x_rows, y_bytes = encode(x, y, graph)
    set_threads(threads)
    assert thread_count() == threads
    session = Session(build_program(graph), seed=3)
    session.train(x_rows, y_bytes, np.arange(96, dtype=np.int32), 0, 3)
    return session.weights()


def test_mlp_weights_do_not_depend_on_the_thread_count():
    reference = _mlp_weights(1)
    for threads in (2, 3, 4):
        got = _mlp_weights(threads)
        assert sorted(got) == sorted(reference)
        for key in reference:
            assert got[key].tobytes() == reference[key].tobytes(), (threads, key)


@pytest.mark.parametrize("model", ["digits_mlp", "digits_cnn"])
def test_train_threads_option_gives_the_same_weights(tmp_path, model):
    ini = str(ROOT / "examples" / f"{model}.ini")
    runs = {}
    for threads in (1, 3):
        out = tmp_path / f"{threads}.npz"
        assert main(["train", ini, "--iterations", "4", "--seed", "2", "--quiet",
                     "--threads", str(threads), "--dump-weights", str(out)]) == 0
        runs[threads] = np.load(out)
    for key in runs[1].files:
        assert runs[3][key].tobytes() == runs[1][key].tobytes(), key


def test_threads_out_of_range_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(ROOT / "examples" / "digits_mlp.ini"), "--threads", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--threads" in err
