"""Issue 12's accuracy check where it was hardest: the digits CNN fine-tuned with
Adam. Integer Adam must take float Adam's steps on the same gradients (per
layer, over whole epochs), which needs weights that do not saturate at their
frozen per-channel scale (docs/int8.md, "Weight headroom"), and int8+QAS must
end within 1 point of float32 with the same schedule."""
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
ADAM = {"type": "adam", "learning_rate": 0.002}
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
EPOCHS = 3
WEIGHT_BYTES = {"int8": np.int8, "fixed": np.int16}
BOUND = {"int8": 127, "fixed": 32767}


@pytest.fixture(scope="module")
def bench():
    """bench/int8_accuracy.py with every model built for Adam (restored after)."""
    sys.path.insert(0, str(BENCH))
    try:
        import int8_accuracy
    finally:
        sys.path.remove(str(BENCH))
    saved = dict(int8_accuracy.OPTIMIZER)
    int8_accuracy.OPTIMIZER.clear()
    int8_accuracy.OPTIMIZER.update(ADAM)
    yield int8_accuracy
    int8_accuracy.OPTIMIZER.clear()
    int8_accuracy.OPTIMIZER.update(saved)


@pytest.fixture(scope="module")
def pretrained(bench):
    """(digits, float weights after 2 Adam epochs): where every precision starts."""
    from host_tools.program import build_program
    from host_tools.quantize.prepare import float_graph_of
    from host_tools.session import Session
    data = bench.digits()
    session = Session(build_program(float_graph_of(bench.digits_cnn(), 0)), seed=0)
    bench._quiet_train(session, data, 2, 0)
    return data, session.weights()


class _Arena:
    """Raw bytes of any tensor between iterations (a no-reuse plan keeps dW readable)."""

    def __init__(self, graph, program, session):
        self.tensors = {t.name: t for t in graph.tensors}
        self.program, self.session = program, session

    def raw(self, name):
        tensor = self.tensors[name]
        offset = int(self.program.tensors[tensor.id]["offset"])
        return self.session.runtime.arena[offset:offset + tensor.nbytes].copy()

    def g16(self, name):
        """The real value per unit F: g * 2^e (docs/int8.md, g16)."""
        raw = self.raw(name)
        return raw[4:].view(np.int16).astype(np.float64) * 2.0 ** int(raw[:4].view(np.int32)[0])


def _steps_beside_float_adam(bench, data, weights, precision):
    """Fine-tunes EPOCHS epochs one iteration at a time; per (layer, key) the summed
    real step of the integer weights and of float Adam (PyTorch's formula) fed the
    integer gradients. Also returns the final integer weights."""
    from host_tools.data import encode
    from host_tools.program import build_program
    from host_tools.quantize.prepare import quantized_graph
    from host_tools.session import Session
    from host_tools.training import batch_orders
    # unfused: this reads each step's weight gradient, which the fused update never
    # stores (the two train bit-identically, tests/test_int8_fused.py)
    graph, _ = quantized_graph(bench.digits_cnn(precision), 0, data, weights, 0, fused=False)
    program = build_program(graph, "no-reuse", in_place=False)
    arena = _Arena(graph, program, Session(program, seed=0))
    quant = graph.quant
    inputs = {node.name: node.inputs[0] for node in graph.nodes if node.name in quant.layers}
    dtypes = {"weight": WEIGHT_BYTES[precision], "bias": np.int32}
    sums = {(layer, key): {"int": 0.0, "float": 0.0, "m": 0.0, "v": 0.0}
            for layer in quant.layers for key in ("weight", "bias")}
    x, y = encode(data.x, data.y, graph)
    iterations = len(x) // graph.batch
    for epoch in range(EPOCHS):
        order = batch_orders(len(x), True, 0, epoch)
        for it in range(iterations):
            before = {k: arena.raw(f"{k[0]}:{k[1]}").view(dtypes[k[1]]).astype(np.float64)
                      for k in sums}
            arena.session.train(x, y, order, it, 1)
            t = epoch * iterations + it + 1
            for (layer, key), s in sums.items():
                q_layer = quant.layers[layer]
                factor = float(quant.activation(inputs[layer])[0]) if key == "weight" else 1.0
                grad = arena.g16(f"{layer}:{key}/grad") * factor
                scale = q_layer.weight_scale if key == "weight" else q_layer.bias_scale
                scale = np.repeat(scale.astype(np.float64), grad.size // len(scale))
                after = arena.raw(f"{layer}:{key}").view(dtypes[key]).astype(np.float64)
                s["int"] = s["int"] + (before[(layer, key)] - after) * scale
                s["m"] = BETA1 * s["m"] + (1 - BETA1) * grad
                s["v"] = BETA2 * s["v"] + (1 - BETA2) * grad ** 2
                s["float"] = s["float"] + ADAM["learning_rate"] / (1 - BETA1 ** t) * s["m"] / (
                    np.sqrt(s["v"] / (1 - BETA2 ** t)) + EPS)
    final = {layer: arena.raw(f"{layer}:weight").view(dtypes["weight"]) for layer in quant.layers}
    return sums, final


@pytest.mark.parametrize("precision, ratio_tol, min_corr", [("fixed", 0.02, 0.999),
                                                            ("int8", 0.06, 0.9)])
def test_integer_adam_steps_are_float_adams_on_the_same_gradients(
        bench, pretrained, precision, ratio_tol, min_corr):
    """Measured over 3 epochs (projection of the integer steps on float Adam's,
    correlation): fixed 1.000-1.002 / 1.000 in every tensor, int8 0.97-1.02 / >= 0.955
    (stochastic rounding), no weight at the bound. Before the weight headroom
    conv1's weights made 0.53 of float Adam's progress (correlation 0.71; 41 % of
    them stuck at the bound), int8 and fixed alike."""
    data, weights = pretrained
    sums, final = _steps_beside_float_adam(bench, data, weights, precision)
    for key, s in sums.items():
        ratio = float(np.dot(s["int"], s["float"]) / np.dot(s["float"], s["float"]))
        corr = float(np.corrcoef(s["int"], s["float"])[0, 1])
        assert abs(ratio - 1) <= ratio_tol and corr >= min_corr, (key, ratio, corr)
    for layer, q in final.items():
        stuck = float(np.mean(np.abs(q.astype(np.int64)) >= BOUND[precision]))
        assert stuck == 0.0, (layer, stuck)


def test_digits_cnn_with_adam_int8_within_a_point_of_float32(bench, pretrained):
    """The issue's check, as bench/int8_accuracy.py --optimizer adam runs it (5 seeds,
    2 float epochs then 10 per precision). Measured: float32 95.78, int8+QAS 95.28,
    int8 --no-qas 88.94, fixed 95.67 (before the weight headroom: 94.17 and 94.28)."""
    data, _ = pretrained
    rows = [bench.run_task(data, bench.digits_cnn, seed, 2, 10) for seed in range(5)]
    mean = {column: 100 * np.mean([row[column] for row in rows]) for column in rows[0]}
    assert mean["int8+QAS"] >= mean["float32"] - 1.0, mean
    assert mean["fixed"] >= mean["float32"] - 1.0, mean
    assert mean["int8 (--no-qas)"] < mean["int8+QAS"] - 3.0, mean   # QAS is what closes it
