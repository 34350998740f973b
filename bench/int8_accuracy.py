"""Accuracy of integer training against float32 with the same schedule:
float32 / int8+QAS / int8 without QAS (the ablation) / fixed (int16, no float).

    python bench/int8_accuracy.py [--seeds 5] [--pretrain 2] [--epochs 10] [--tasks digits_mlp,wine]
                                  [--optimizer sgd|adam]

Every task and seed: a float32 model is trained for --pretrain epochs (SGD with
momentum 0.9 and lr 0.03, or Adam with lr 0.002), then fine-tuned for --epochs more from those weights in each
precision (int8 / fixed: post-training quantization calibrated on the training
split, then integer training on the host's C executor, as a board runs it).
Cells are the final held-out accuracy, mean over seeds (each seed changes the
initial weights and the shuffling; the split is fixed); "ptq" is int8 right
after quantization, before fine-tuning (weights with the headroom of
docs/int8.md). Target: int8+QAS within 1 point of float32. A task whose layers
have no integer kernels yet says so."""
import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from host_tools.data import DataSet, digits, encode  # noqa: E402
from host_tools.device.demo import by_tensor_id  # noqa: E402
from host_tools.errors import UserError  # noqa: E402
from host_tools.model.api import Model  # noqa: E402
from host_tools.program import build_program  # noqa: E402
from host_tools.quantize.prepare import float_graph_of, quantized_graph  # noqa: E402
from host_tools.session import Session  # noqa: E402
from host_tools.training import accuracy, train  # noqa: E402

PRECISIONS = (("float32", "float32", True), ("int8+QAS", "int8", True),
              ("int8 (--no-qas)", "int8", False), ("fixed", "fixed", True))
OPTIMIZERS = {"sgd": {"type": "sgd", "learning_rate": 0.03, "momentum": 0.9},
              "adam": {"type": "adam", "learning_rate": 0.002}}
OPTIMIZER = dict(OPTIMIZERS["sgd"])   # the one every model is built with (--optimizer)


def mlp(features, hidden, classes, precision="float32", qas=True, batch=16):
    model = Model(loss="cross", batch_size=batch, optimizer=dict(OPTIMIZER),
                  precision=precision, qas=qas)
    model.add("input", "input", input_shape=f"1:1:{features}")
    model.add("hidden", "fully_connected", unit=hidden, activation="relu")
    model.add("output", "fully_connected", unit=classes, activation="softmax")
    return model.spec()


def digits_mlp(precision="float32", qas=True):
    model = Model(loss="cross", batch_size=32, optimizer=dict(OPTIMIZER), precision=precision,
                  qas=qas)
    model.add("input", "input", input_shape="1:8:8")
    model.add("flatten", "flatten")
    model.add("hidden", "fully_connected", unit=64, activation="relu")
    model.add("output", "fully_connected", unit=10, activation="softmax")
    return model.spec()


def digits_cnn(precision="float32", qas=True):
    model = Model(loss="cross", batch_size=32, optimizer=dict(OPTIMIZER), precision=precision,
                  qas=qas)
    model.add("input", "input", input_shape="1:8:8")
    model.add("conv1", "conv2d", filters=16, kernel_size=3, padding="same", activation="relu")
    model.add("pool1", "pooling2d", pooling="max", pool_size=2, stride=2)
    model.add("flatten", "flatten")
    model.add("output", "fully_connected", unit=10, activation="softmax")
    return model.spec()


def sklearn_task(name):
    """A scikit-learn table, standardized with the training split's statistics."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    bunch = getattr(datasets, f"load_{name}")()
    x_train, x_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=0.25, random_state=0, stratify=bunch.target)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    shape = lambda x: ((x - mean) / std).astype(np.float32)[:, None, None, :]  # noqa: E731
    return DataSet(shape(x_train), y_train.astype(np.int64), shape(x_test),
                   y_test.astype(np.int64), name)


TASKS = {
    "digits_mlp": (digits, digits_mlp),
    "digits_cnn": (digits, digits_cnn),
    "wine": (lambda: sklearn_task("wine"),
             lambda precision="float32", qas=True: mlp(13, 32, 3, precision, qas)),
    "breast_cancer": (lambda: sklearn_task("breast_cancer"),
                      lambda precision="float32", qas=True: mlp(30, 32, 2, precision, qas)),
}


def _quiet_train(session, data, epochs, seed):
    return train(session, data, epochs=epochs, seed=seed, log=lambda line: None, progress=False)


def run_task(data, make_spec, seed, pretrain, epochs):
    """-> {column: held-out accuracy} for one seed."""
    program = build_program(float_graph_of(make_spec(), 0))
    session = Session(program, seed=seed)
    _quiet_train(session, data, pretrain, seed)
    weights = session.weights()
    row = {}
    for column, precision, qas in PRECISIONS:
        if precision == "float32":
            tuned = Session(program, seed=seed)
            tuned.set_values(by_tensor_id(program, weights))
        else:
            graph, _ = quantized_graph(make_spec(precision, qas), 0, data, weights, seed)
            tuned = Session(build_program(graph), seed=seed)
            if column == "int8+QAS":
                x, y = encode(data.x_test, data.y_test, graph)
                row["ptq"] = accuracy(tuned, x, data.y_test, y)
        row[column] = _quiet_train(tuned, data, epochs, seed).epochs[-1].test_accuracy
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--pretrain", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd")
    args = parser.parse_args()
    OPTIMIZER.clear()
    OPTIMIZER.update(OPTIMIZERS[args.optimizer])
    columns = [c for c, _, _ in PRECISIONS] + ["ptq"]
    print(f"held-out accuracy %, mean of {args.seeds} seeds; {args.pretrain} float32 epochs, "
          f"then {args.epochs} epochs per precision ({OPTIMIZER})")
    print(f"{'task':<15}" + "".join(f"{c:>17}" for c in columns) + f"{'int8+QAS - f32':>16}")
    for name in args.tasks.split(","):
        load, make_spec = TASKS[name]
        data = load()
        try:
            rows = [run_task(data, make_spec, seed, args.pretrain, args.epochs)
                    for seed in range(args.seeds)]
        except UserError as error:
            print(f"{name:<15}  n/a: {str(error).split(': ', 1)[-1]}")
            continue
        means = {c: 100 * statistics.mean(r[c] for r in rows) for c in columns}
        print(f"{name:<15}" + "".join(f"{means[c]:>17.2f}" for c in columns)
              + f"{means['int8+QAS'] - means['float32']:>+16.2f}", flush=True)


if __name__ == "__main__":
    main()
