"""The `microtrain train` command end to end: real data (scikit-learn's
digits) reaches the expected accuracy, and user mistakes end with exit
status 2 and one line on stderr naming the file and section / key."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def microtrain(*args):
    """Runs the installed CLI (or its module when the script is not on PATH)."""
    script = shutil.which("microtrain")
    command = [script] if script else [sys.executable, "-m", "host_tools.cli"]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def final_accuracy(stdout):
    found = re.findall(r"final test accuracy ([0-9.]+)%", stdout)
    assert found, stdout
    return float(found[-1])


# ------------------------------------------------------------------ real data

@pytest.mark.parametrize("model,minimum", [("digits_mlp.ini", 95.0), ("digits_cnn.ini", 97.0)])
def test_digits_accuracy(model, minimum):
    result = microtrain("train", EXAMPLES / model, "--quiet")
    assert result.returncode == 0, result.stderr
    assert final_accuracy(result.stdout) >= minimum


# ------------------------------------------------------------------ user errors

MLP = """
[Model]
loss = cross
batch_size = 16
[Optimizer]
type = sgd
learning_rate = 0.1
[input]
type = input
input_shape = 1:8:8
[flatten]
type = flatten
[hidden]
type = fully_connected
unit = 8
activation = relu
[output]
type = fully_connected
unit = 10
activation = softmax
"""


def assert_user_error(result, *fragments):
    """Exit 2, exactly one stderr line holding every fragment, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def write_model(tmp_path, text, name="model.ini"):
    path = tmp_path / name
    path.write_text(text)
    return path


MODEL_ERRORS = {
    "unknown_key": (MLP.replace("unit = 8", "unit = 8\nwidth = 3"),
                    ["[hidden]", "unknown key 'width'"]),
    "unknown_layer_type": (MLP.replace("type = flatten", "type = flattenn"),
                           ["[flatten] type", "unsupported layer type flattenn (supported: "]),
    "missing_input_shape": (MLP.replace("input_shape = 1:8:8", ""),
                            ["[input]", "input_shape"]),
    "addition_shape_mismatch": (MLP + "[skip]\ntype = addition\ninput_layers = hidden, flatten\n"
                                "[final]\ntype = fully_connected\nunit = 10\n"
                                "activation = softmax\n",
                                ["[skip]", "addition inputs differ in shape: 8 vs 64"]),
    "cycle": (MLP.replace("type = flatten", "type = flatten\ninput_layers = output"),
              ["[flatten]", "cycle"]),
    "missing_input_layer": (MLP.replace("unit = 10", "unit = 10\ninput_layers = hiden"),
                            ["[output]", "input layer 'hiden' does not exist"]),
}


@pytest.mark.parametrize("case", MODEL_ERRORS)
def test_model_errors(tmp_path, case):
    text, fragments = MODEL_ERRORS[case]
    path = write_model(tmp_path, text)
    assert_user_error(microtrain("train", path, "--quiet", "--iterations", "1"), str(path),
                      *fragments)


def test_the_base_model_of_the_error_cases_trains(tmp_path):
    """The error cases differ from this model only by the mistake."""
    result = microtrain("train", write_model(tmp_path, MLP), "--quiet", "--iterations", "2")
    assert result.returncode == 0, result.stderr


def good_weights():
    return {"hidden:weight": np.zeros((8, 64), np.float32), "hidden:bias": np.zeros(8, np.float32),
            "output:weight": np.zeros((10, 8), np.float32), "output:bias": np.zeros(10, np.float32)}


WEIGHT_ERRORS = {
    "unknown_key": ({"hidden:kernel": np.zeros((8, 64), np.float32)},
                    "unknown key 'hidden:kernel'"),
    "wrong_shape": ({**good_weights(), "output:weight": np.zeros((8, 10), np.float32)},
                    "key 'output:weight' has shape (8, 10), the model needs (10, 8)"),
}


@pytest.mark.parametrize("case", WEIGHT_ERRORS)
def test_init_weights_errors(tmp_path, case):
    arrays, fragment = WEIGHT_ERRORS[case]
    weights = tmp_path / "weights.npz"
    np.savez(weights, **arrays)
    result = microtrain("train", write_model(tmp_path, MLP), "--quiet", "--iterations", "1",
                        "--init-weights", weights)
    assert_user_error(result, str(weights), fragment)


def test_init_weights_with_right_keys_are_used(tmp_path):
    """All-zero weights: every class scores equally, so the first loss is ln(10)."""
    weights = tmp_path / "weights.npz"
    np.savez(weights, **good_weights())
    result = microtrain("train", write_model(tmp_path, MLP), "--quiet", "--iterations", "1",
                        "--init-weights", weights, "--no-shuffle")
    assert result.returncode == 0, result.stderr
    assert "loss 2.3026" in result.stdout


def data_npz(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


DATA_ERRORS = {
    "missing_y": (dict(x=np.zeros((32, 1, 8, 8), np.float32)), "missing key(s) y"),
    "wrong_sample_shape": (dict(x=np.zeros((32, 1, 7, 7), np.float32), y=np.zeros(32, np.int64)),
                           "x samples have shape (1, 7, 7), the model input is (1, 8, 8)"),
    "label_out_of_range": (dict(x=np.zeros((32, 1, 8, 8), np.float32), y=np.full(32, 10)),
                           "labels must be in [0, 10)"),
    "length_mismatch": (dict(x=np.zeros((32, 1, 8, 8), np.float32), y=np.zeros(31, np.int64)),
                        "x has 32 samples but y has 31"),
}


@pytest.mark.parametrize("case", DATA_ERRORS)
def test_data_errors(tmp_path, case):
    arrays, fragment = DATA_ERRORS[case]
    data = data_npz(tmp_path, **arrays)
    result = microtrain("train", write_model(tmp_path, MLP), "--quiet", "--iterations", "1",
                        "--data", data)
    assert_user_error(result, str(data), fragment)
