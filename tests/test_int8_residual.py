"""A residual MLP (a skip connection summed by QADD_FWD, the fork's two
derivatives summed by QG16_ADD) trains in int8 and fixed like float32 from the
same float weights, and resnet8 quantizes within the arena target."""
import numpy as np
import pytest

from host_tools.model.api import Model

PRETRAIN_EPOCHS, FINETUNE_EPOCHS = 3, 4


def _residual_spec(precision):
    model = Model(loss="cross", batch_size=8, precision=precision,
                  optimizer={"type": "sgd", "learning_rate": 0.03, "momentum": 0.9})
    model.add("input", "input", input_shape="1:8:8")
    model.add("flatten", "flatten")
    model.add("h1", "fully_connected", unit=32, activation="relu")
    model.add("h2", "fully_connected", unit=32)
    model.add("sum", "addition", input_layers="h2,h1", activation="relu")
    model.add("output", "fully_connected", unit=10, activation="softmax")
    return model.spec()


@pytest.fixture(scope="module")
def digits_data():
    from host_tools.data import digits
    return digits()


@pytest.fixture(scope="module")
def pretrained(digits_data):
    from host_tools.program import build_program
    from host_tools.quantize.prepare import float_graph_of
    from host_tools.session import Session
    from host_tools.training import train
    session = Session(build_program(float_graph_of(_residual_spec("float32"), 0)), seed=1)
    train(session, digits_data, epochs=PRETRAIN_EPOCHS, seed=1, log=lambda line: None,
          progress=False)
    return session.weights()


def _finetune(digits_data, weights, precision):
    from host_tools.device.demo import by_tensor_id
    from host_tools.program import build_program
    from host_tools.quantize.prepare import float_graph_of, quantized_graph
    from host_tools.session import Session
    from host_tools.training import train
    spec = _residual_spec(precision)
    if precision == "float32":
        program = build_program(float_graph_of(spec, 0))
        session = Session(program, seed=2)
        session.set_values(by_tensor_id(program, weights))
    else:
        graph = quantized_graph(spec, 0, digits_data, weights, 2)[0]
        kinds = [op.kind for op in graph.ops]
        assert "QADD_FWD" in kinds and "QG16_ADD" in kinds   # the skip and the fork
        session = Session(build_program(graph), seed=2)
    return train(session, digits_data, epochs=FINETUNE_EPOCHS, seed=2, log=lambda line: None,
                 progress=False)


def test_residual_mlp_trains_in_integers_like_float32(digits_data, pretrained):
    """Measured (360 held-out digits) after the same 4 epochs: float32 94.7%, int8 94.4%,
    fixed 96.4% (int8 91.7% after its first epoch). Integer training may not lose more than 1.5 points to float32
    (doing better is no fault)."""
    runs = {p: _finetune(digits_data, pretrained, p) for p in ("float32", "int8", "fixed")}
    accuracy = {p: run.epochs[-1].test_accuracy for p, run in runs.items()}
    assert accuracy["int8"] >= accuracy["float32"] - 0.015, accuracy
    assert accuracy["fixed"] >= accuracy["float32"] - 0.015, accuracy
    start = runs["int8"].epochs[0].test_accuracy
    # above the pretrained 91.4% after one integer epoch already: both branches learn
    assert min(accuracy["int8"], accuracy["fixed"]) > 0.93 and start > 0.914, accuracy
    again = _finetune(digits_data, pretrained, "int8")
    assert np.array_equal(again.losses, runs["int8"].losses)


def test_resnet8_quantizes_within_the_arena_target():
    import sys
    from pathlib import Path
    bench = Path(__file__).resolve().parents[1] / "bench"
    sys.path.insert(0, str(bench))
    try:
        import memory
    finally:
        sys.path.remove(str(bench))
    from host_tools.program import build_program
    base = build_program(memory.graph_for("resnet8", memory.PRECISION_BATCH))
    int8 = memory._integer_program("resnet8", "int8")
    assert int8.arena_bytes <= 0.35 * base.arena_bytes
