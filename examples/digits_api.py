"""The digits models built with the Python API instead of an INI file, then
trained on the host by the same C executor a board runs.

    python examples/digits_api.py [--cnn] [--epochs N] [--dump-weights OUT.npz]

The MLP is layer for layer examples/digits_mlp.ini (and the CNN
examples/digits_cnn.ini), so with the same seed the epoch lines are the ones
`microtrain train examples/digits_mlp.ini` prints."""
import argparse

from core_cy import CONSTANTS
from host_tools.data import digits
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.program import build_program
from host_tools.session import Session
from host_tools.training import train
from host_tools.weights import save_weights_npz


def digits_mlp():
    model = Model(loss="cross", batch_size=32, epochs=30,
                  optimizer={"type": "adam", "learning_rate": 0.002})
    model.add("input", "input", input_shape="1:8:8")
    model.add("flatten", "flatten")
    model.add("hidden", "fully_connected", unit=64, activation="relu")
    model.add("output", "fully_connected", unit=10, activation="softmax")
    return model


def digits_cnn():
    model = Model(loss="cross", batch_size=32, epochs=30,
                  optimizer={"type": "adam", "learning_rate": 0.003})
    model.add("input", "input", input_shape="1:8:8")
    model.add("conv1", "conv2d", filters=16, kernel_size=3, padding="same", activation="relu")
    model.add("pool1", "pooling2d", pooling="max", pool_size=2)
    model.add("conv2", "conv2d", filters=32, kernel_size=3, padding="same", activation="relu")
    model.add("pool2", "pooling2d", pooling="max", pool_size=2)
    model.add("flatten", "flatten")
    model.add("output", "fully_connected", unit=10, activation="softmax")
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cnn", action="store_true", help="the CNN instead of the MLP")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--dump-weights", metavar="OUT.npz")
    args = parser.parse_args()

    spec = (digits_cnn() if args.cnn else digits_mlp()).spec()
    graph = build_training_graph(spec, CONSTANTS["LABEL_INDEX"])  # int labels, cross-entropy
    program = build_program(graph, "best")          # the smallest valid arena plan
    print(f"{len(program.graph.ops)} ops, arena {program.arena_bytes:,} bytes "
          f"({program.plan.planner} planner)")
    session = Session(program, seed=0)
    run = train(session, digits(), epochs=args.epochs, seed=0)
    print(f"final test accuracy {100 * run.epochs[-1].test_accuracy:.2f}%")
    if args.dump_weights:
        save_weights_npz(args.dump_weights, session.weights())


if __name__ == "__main__":
    main()
