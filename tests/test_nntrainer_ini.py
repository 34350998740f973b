"""NNTrainer INI files mean the same model here: iniparser's text rules,
every key implemented or warned about, FC on the last dimension, flatten,
loss layers, initializers, learning-rate schedules (formulas and training
against torch), and one-line errors for what we do not support."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core_cy import CONSTANTS
from host_tools.cli import main
from host_tools.errors import UserError
from host_tools.graph.normalize import normalize
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.ini import load_ini
from host_tools.model.lr_schedule import parse_lr_schedule
from host_tools.program import build_program
from host_tools.session import Session
from host_tools.training import train
from host_tools.data import DataSet
from torch_reference import TorchTwin, make_optimizer

HEAD = "[Model]\ntype = NeuralNetwork\nbatch_size = 4\nloss = mse\n" \
       "[Optimizer]\ntype = sgd\nlearning_rate = 0.1\n"


def write(tmp_path, text, name="m.ini"):
    path = tmp_path / name
    path.write_text(text)
    return path


def load(tmp_path, text):
    return load_ini(write(tmp_path, text))


# ------------------------------------------------------------------ text rules

def test_case_quotes_comments_and_duplicates(tmp_path):
    spec = load(tmp_path, "[MODEL]\nType = NeuralNetwork\nLOSS = \"mse\"\nbatch_size=2#c\n"
                          "batch_size = 3 ; the last one wins\n"
                          "[In]\ntype = input\ninput_shape = '1:1:4'\n"
                          "[FC]\nType = Fully_Connected\nUnit = 6\n[fc]\nactivation = Sigmoid\n")
    assert (spec.loss, spec.batch_size) == ("mse", 3)
    assert [layer.name for layer in spec.layers] == ["in", "fc"]  # one merged [fc]
    assert spec.layers[1].props == {"unit": 6, "activation": "sigmoid"}


def test_ignored_keys_warn_one_line_each(tmp_path, capsys):
    path = write(tmp_path, "[Model]\ntype = NeuralNetwork\nsave_path = \"m.bin\"\nfsu = true\n"
                           "fsu_lookahead = 2\nmemory_optimization = true\ncontinue_train = true\n"
                           "[train_set]\ntype = file\npath = x.dat\n"
                           "[in]\ntype = input\ninput_shape = 1:1:3\n"
                           "[fc]\ntype = fully_connected\nunit = 2\nloss = 0\n")
    assert main(["plan", str(path)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    keys = ["save_path", "fsu", "fsu_lookahead", "memory_optimization", "continue_train",
            "[train_set]", "loss"]
    assert len(warnings) == len(keys)
    for key, line in zip(keys, warnings):
        assert key in line and "ignored (" in line


@pytest.mark.parametrize("text,message", [
    ("[x]\ntype = lstm\nunit = 3\n", "unsupported layer type lstm (supported: "),
    ("[x]\ntype = fully_connected\nunit = 3\nfoo = 1\n", "unknown key 'foo'"),
    ("[x]\ntype = fully_connected\nunit = 3\nweight_initializer = magic\n",
     "weight_initializer='magic' must be one of"),
])
def test_bad_layers_fail_with_one_line(tmp_path, capsys, text, message):
    path = write(tmp_path, HEAD + "[in]\ntype = input\ninput_shape = 1:1:3\n" + text)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_mixed_precision_is_refused(tmp_path):
    with pytest.raises(UserError, match="FP32-FP32"):
        load(tmp_path, "[Model]\nmodel_tensor_type = FP16-FP16\n[in]\ntype = input\n"
                       "input_shape = 1:1:3\n")


# ------------------------------------------------------------------ model meaning

def test_fc_acts_on_the_last_dimension_and_flatten_property(tmp_path):
    spec = load(tmp_path, HEAD + "[in]\ntype = input\ninput_shape = 2:3:4\n"
                                 "[fc]\ntype = fully_connected\nunit = 5\n"
                                 "[fc2]\ntype = fully_connected\nunit = 7\nactivation = relu\n"
                                 "flatten = true\n[out]\ntype = fully_connected\nunit = 2\n")
    shapes = {node.name: node.shape for node in normalize(spec).nodes}
    assert shapes["fc"] == (2, 3, 5)
    assert shapes["fc2/activation"] == (2, 3, 7)
    assert shapes["fc2/flatten"] == (42,)
    assert shapes["out"] == (2,)
    graph = build_training_graph(spec)
    assert graph.tensors[graph.params["fc"]["weight"]].shape == (5, 4)


@pytest.mark.parametrize("loss_type", ["mse", "cross_softmax", "cross_sigmoid"])
def test_loss_written_as_a_layer(tmp_path, loss_type):
    spec = load(tmp_path, "[Model]\nbatch_size = 2\n[in]\ntype = input\ninput_shape = 1:1:3\n"
                          f"[fc]\ntype = fully_connected\nunit = 4\n[loss]\ntype = {loss_type}\n")
    assert spec.loss == loss_type and [layer.name for layer in spec.layers] == ["in", "fc"]


def test_loss_layer_conflicting_with_model_loss(tmp_path):
    with pytest.raises(UserError, match="conflicts"):
        load(tmp_path, HEAD + "[in]\ntype = input\ninput_shape = 1:1:3\n"
                              "[fc]\ntype = fully_connected\nunit = 4\n[l]\ntype = cross_sigmoid\n")


def test_default_initializers_are_nntrainers(tmp_path):
    """weight xavier_uniform, bias zeros; he_normal and others by key."""
    spec = load(tmp_path, HEAD + "[in]\ntype = input\ninput_shape = 1:1:30\n"
                                 "[fc]\ntype = fully_connected\nunit = 20\n"
                                 "[fc2]\ntype = fully_connected\nunit = 10\n"
                                 "weight_initializer = he_normal\nbias_initializer = ones\n")
    graph = build_training_graph(spec)
    init = {graph.tensors[tid].name: graph.tensors[tid].init
            for keys in graph.params.values() for tid in keys.values()}
    assert init["fc:weight"] == ("uniform", math.sqrt(6 / 50))
    assert init["fc:bias"] == ("const", 0.0)
    assert init["fc2:weight"] == ("normal", math.sqrt(2 / 20))
    assert init["fc2:bias"] == ("const", 1.0)
    weights = Session(build_program(graph), seed=7).weights()
    assert np.abs(weights["fc:weight"]).max() <= math.sqrt(6 / 50)
    assert np.all(weights["fc2:bias"] == 1.0)
    again = Session(build_program(graph), seed=7).weights()
    assert np.array_equal(weights["fc2:weight"], again["fc2:weight"])  # --seed reproduces


# ------------------------------------------------------------------ learning-rate schedules

def test_schedule_formulas():
    exp = parse_lr_schedule({"type": "exponential", "learning_rate": "0.1", "decay_rate": "0.5",
                             "decay_steps": "4"}, "s", 0.1)
    assert [exp.rate(i) for i in (0, 2, 4)] == [0.1, 0.1 * 0.5 ** 0.5, 0.05]
    step = parse_lr_schedule({"type": "step", "learning_rate": "0.1, 0.01, 0.001",
                              "iteration": "2, 5"}, "s", 0.1)
    assert [step.rate(i) for i in range(8)] == [0.1] * 3 + [0.01] * 3 + [0.001] * 2
    cos = parse_lr_schedule({"type": "cosine", "max_learning_rate": "1", "min_learning_rate":
                             "0.5", "decay_steps": "4"}, "s", 0.1)
    assert [cos.rate(i) for i in (0, 2, 4)] == [1.0, 0.75, 1.0]
    const = parse_lr_schedule({"type": "constant", "learning_rate": "0.3"}, "s", 0.1)
    assert const.rate(99) == 0.3


def test_step_schedule_needs_matching_lists():
    with pytest.raises(UserError, match="one more learning_rate"):
        parse_lr_schedule({"type": "step", "learning_rate": "0.1, 0.2", "iteration": "1, 2"},
                          "s", 0.1)


@pytest.mark.parametrize("section", [
    "[Optimizer]\ntype = sgd\nlearning_rate = 0.5\ndecay_rate = 0.5\ndecay_steps = 2\n",
    "[Optimizer]\ntype = adam\n[LearningRateScheduler]\ntype = step\n"
    "learning_rate = 0.05, 0.01\niteration = 2\n",
])
def test_scheduled_training_matches_torch(tmp_path, section):
    """Host training with a schedule equals torch with the same per-iteration rate."""
    spec = load(tmp_path, "[Model]\nbatch_size = 4\nloss = mse\n" + section +
                "[in]\ntype = input\ninput_shape = 1:1:5\n"
                "[fc]\ntype = fully_connected\nunit = 3\nactivation = tanh\n")
    g = np.random.default_rng(0)
    x = g.standard_normal((20, 5)).astype(np.float32)
    y = g.standard_normal((20, 3)).astype(np.float32)
    graph = build_training_graph(spec, CONSTANTS["LABEL_DENSE"])
    session = Session(build_program(graph), seed=1)
    start = session.weights()
    run = train(session, DataSet(x, y, name="t"), epochs=2, shuffle=False, log=lambda _: None,
                progress=False)
    twin = TorchTwin(graph)
    twin.load(start)
    optimizer = make_optimizer(spec, twin.parameters())
    for it in range(10):
        for group in optimizer.param_groups:
            group["lr"] = spec.lr_schedule.rate(it)
        optimizer.zero_grad()
        rows = torch.from_numpy(x[(it % 5) * 4:(it % 5) * 4 + 4])
        loss = torch.nn.functional.mse_loss(twin(rows), torch.from_numpy(y[(it % 5) * 4:][:4]))
        loss.backward()
        optimizer.step()
        np.testing.assert_allclose(run.losses[it], loss.item(), rtol=1e-5, atol=1e-6)
    for key, value in session.weights().items():
        np.testing.assert_allclose(value, twin.weights()[key], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ microtrain convert

def test_convert_shows_the_interpretation(tmp_path, capsys):
    path = write(tmp_path, "[Model]\nbatch_size = 2\nsave_path = m.bin\n[Optimizer]\ntype = sgd\n"
                           "learning_rate = 0.1\ndecay_rate = 0.5\ndecay_steps = 1\n"
                           "[in]\ntype = input\ninput_shape = 2:3:4\n"
                           "[fc]\ntype = fully_connected\nunit = 5\nactivation = relu\n"
                           "flatten = true\n[loss]\ntype = mse\n")
    assert main(["convert", str(path)]) == 0
    captured = capsys.readouterr()
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines()
            if line.startswith("  ") and not line.startswith("   ")}
    assert rows["fc"][1:5] == ["fully_connected", "in", "2:3:5", "25"]
    assert rows["fc/activation"][1:4] == ["activation", "fc", "2:3:5"]
    assert rows["fc/flatten"][3] == "30"
    assert "loss mse" in captured.out
    assert "exponential (iterations 0-2: 0.1, 0.05, 0.025" in captured.out
    assert "ignored keys: 1" in captured.out and "save_path: ignored (" in captured.out
    assert captured.err == ""


# ------------------------------------------------------------------ examples/nntrainer

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "nntrainer").glob("*.ini"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load_and_train(path, capsys):
    """Each example trains on the digits for a few iterations (finite loss)."""
    assert main(["train", str(path), "--iterations", "30", "--quiet", "--no-shuffle"]) == 0
    out = capsys.readouterr()
    epochs = [line for line in out.out.splitlines() if line.startswith("epoch ")]
    assert epochs and "loss nan" not in out.out
    if path.name == "lenet_digits.ini":
        assert out.err.count("ignored (") == 2  # save_path and [train_set]


def test_optimizer_defaults_are_nntrainers(tmp_path):
    """[Optimizer] without type is adam; adam's epsilon defaults to 1e-7."""
    spec = load(tmp_path, "[Model]\n[Optimizer]\nlearning_rate = 0.01\n"
                          "[in]\ntype = input\ninput_shape = 1:1:3\n")
    assert (spec.optimizer.type, spec.optimizer.epsilon) == ("adam", 1e-7)


def test_schedule_start_rate_and_bundle_warning(tmp_path, capsys):
    """The op records start at the schedule's first rate (cosine: its max); a
    bundle, which the device trains at that rate, says the schedule stays behind."""
    path = write(tmp_path, "[Model]\nbatch_size = 2\n[Optimizer]\ntype = sgd\n"
                           "[LearningRateScheduler]\ntype = cosine\nmax_learning_rate = 0.3\n"
                           "min_learning_rate = 0.1\ndecay_steps = 10\n"
                           "[in]\ntype = input\ninput_shape = 1:1:3\n"
                           "[fc]\ntype = fully_connected\nunit = 2\n")
    assert load_ini(path).optimizer.learning_rate == 0.3
    assert main(["plan", str(path), "-o", str(tmp_path / "m.mtb")]) == 0
    assert "cosine learning-rate schedule runs in host training only" in capsys.readouterr().err


@pytest.mark.parametrize("text,message", [
    ("[c]\ntype = concat\n", "a concat layer takes 2 to 7 inputs, got 1"),
    ("[p]\ntype = permute\ndirection = 1:1:2\n", "must be a permutation of 1:2:3"),
    ("[l]\ntype = layer_normalization\n", "missing key 'axis'"),
    ("[u]\ntype = upsample2d\nupsample = bilinear\n", "must be one of nearest"),
    ("[c]\ntype = conv1d\nfilters = 2\nkernel_size = 3\n", "conv1d needs a c:1:w input"),
    ("[s]\ntype = split\nsplit_dimension = 2\nsplit_number = 2\n[f]\ntype = flatten\n",
     "split_number=2 does not divide dimension 2 (3)"),
    ("[s]\ntype = split\nsplit_dimension = 2\n[f]\ntype = flatten\ninput_layers = s(3)\n",
     "output 3 of a 3-way split does not exist"),
])
def test_new_layer_mistakes_are_one_line(tmp_path, capsys, text, message):
    path = write(tmp_path, HEAD + "[in]\ntype = input\ninput_shape = 2:3:4\n" + text)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
