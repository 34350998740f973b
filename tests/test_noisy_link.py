"""Flash, train and pull through a noisy line at 0.1 %, 1 %, 2 % and 5 % of the
bytes dropped, duplicated, bit-flipped or stalled (board/noisy_line.py): every
step succeeds and is verified (stored bundle = file, checkpoint FINISHED, weights
= the host's run bit for bit), and a bundle announced with a wrong CRC is
refused. A small bundle keeps it quick; bench/noisy_link.py is the full table."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from noisy_link import noisy_session, prepare, row  # noqa: E402

MODEL = """\
[Model]
type = NeuralNetwork
loss = cross
batch_size = 8
epochs = 2

[Optimizer]
type = sgd
learning_rate = 0.1

[input]
type = input
input_shape = 1:1:6

[hidden]
type = fully_connected
unit = 8
activation = relu

[output]
type = fully_connected
unit = 3
activation = softmax
"""


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 1, 1, 6)).astype(np.float32)
    return prepare(tmp_path_factory.mktemp("noisy"), MODEL, x, rng.integers(0, 3, 32), seed=4)


@pytest.mark.parametrize("rate", [0.001, 0.01, 0.02, 0.05])
def test_flash_train_pull_all_verified_through_a_noisy_line(small_bundle, tmp_path, rate):
    bundle, reference = small_bundle
    figures = noisy_session(bundle, reference, rate, seed=int(rate * 1000),
                            storage=tmp_path / "board", corrupt_check=True)
    print("\n" + row(figures))
    assert figures["hits"] > 0
