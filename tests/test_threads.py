"""Kernel threads split only output rows/columns, each element summed in the
canonical order: weights after training are bit-identical for 1, 2, 3 and 4
threads (a 784-256-10 MLP big enough to be split, and the digits models
through `microtrain train --threads N`)."""
from pathlib import Path

import numpy as np
import pytest

from mlp_threads import mlp_weights

from core_cy._core import set_threads
from host_tools.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread_afterwards():
    yield
    set_threads(1)


def _mlp_weights(threads):
    return mlp_weights(threads, [256], 32, {"type": "adam", "learning_rate": 0.01}, 96, 1, 3)


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
