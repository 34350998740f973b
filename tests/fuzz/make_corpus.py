"""Writes the seed corpus: a few valid small bundles and deterministic
mutations of them (truncations, bit flips, foreign sections). Re-run after a
format change: python tests/fuzz/make_corpus.py"""
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # repo root, for host_tools
sys.path.insert(0, str(Path(__file__).parent))

import bundle_samples as samples  # noqa: E402
from host_tools.bundle import layout  # noqa: E402
from host_tools.bundle.writer import assemble, content_sections, encode_bundle  # noqa: E402

CORPUS = Path(__file__).parent / "corpus"


def valid_bundles() -> dict:
    dense = samples.tiny_content(with_data=False)
    dense.label_kind, dense.y_bytes = layout.LABEL_DENSE, 8
    # dense labels outgrow T's slot: move T to a fresh range at the arena's end
    dense.tensors[samples.T] = (dense.arena_bytes, samples.N * 8)
    dense.arena_bytes += samples.N * 8
    dense.ops[1]["p"][2] = dense.ops[2]["p"][2] = layout.LABEL_DENSE
    dense.dataset = samples.Dataset(samples.dataset().x, np.ones((5, 2), np.float32))
    full = samples.tiny_content()
    return {
        "valid-full": encode_bundle(full),
        "valid-minimal": encode_bundle(samples.tiny_content(False, False, False)),
        "valid-dense": encode_bundle(dense),
        "valid-extra-section": assemble(content_sections(full) + [(b"xtra", b"future data")]),
        "valid-digits-cnn-swap": planned_bundle(),
        **{f"valid-plan-{name}": plan(ini, args) for name, (ini, args) in SMALL_MODELS.items()},
    }


def planned_bundle() -> bytes:
    """A real planner output: conv, pooling, Adam, a swap schedule and flash-homed weights."""
    import tempfile
    from host_tools.cli import main
    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cnn.mtb"
        main(["plan", str(repo / "examples" / "digits_cnn.ini"), "--batch", "2",
              "--ram-budget", "80000", "-o", str(path)])
        return path.read_bytes()


_HEAD = "[Model]\ntype = NeuralNetwork\nloss = {loss}\nbatch_size = 2\nepochs = 1\n" \
        "[Optimizer]\n{optimizer}\n[input]\ntype = input\ninput_shape = 1:6:6\n"
_CNN = _HEAD + "[conv]\ntype = conv2d\nfilters = 3\nkernel_size = 3\npadding = same\n" \
    "[bn]\ntype = batch_normalization\nactivation = relu\n" \
    "[pool]\ntype = pooling2d\npooling = {pool}\npool_size = 2\n[flat]\ntype = flatten\n" \
    "[drop]\ntype = dropout\ndropout_rate = 0.25\n[out]\ntype = fully_connected\nunit = {out}\n"
_MLP = _HEAD + "[flat]\ntype = flatten\n[hidden]\ntype = fully_connected\nunit = 8\nactivation = tanh\n" \
    "[drop]\ntype = dropout\ndropout_rate = 0.5\n[out]\ntype = fully_connected\nunit = 3\nactivation = softmax\n"
_RESIDUAL = _HEAD + "[stem]\ntype = conv2d\nfilters = 2\nkernel_size = 3\npadding = same\nactivation = relu\n" \
    "[branch]\ntype = conv2d\nfilters = 2\nkernel_size = 3\npadding = same\n" \
    "[add]\ntype = addition\ninput_layers = branch,stem\nactivation = sigmoid\n" \
    "[pool]\ntype = pooling2d\npooling = average\npool_size = 3\nstride = 3\n[flat]\ntype = flatten\n" \
    "[out]\ntype = fully_connected\nunit = 3\nactivation = softmax\n"
_SGD = "type = sgd\nlearning_rate = 0.05\nmomentum = 0.9"
_ADAM = "type = adam\nlearning_rate = 0.01"
# Small planner outputs for the executor fuzzer: every op kind the planner emits
# (max/avg pooling, BN, dropout, addition, SGD with momentum, Adam, three losses), with and
# without a swap schedule. name -> (INI text, extra `plan` arguments).
SMALL_MODELS = {
    "cnn-maxpool-bn-dropout-sgd": (_CNN.format(loss="cross", optimizer=_SGD, pool="max", out="3\nactivation = softmax"), []),
    "cnn-maxpool-bn-adam-swap": (_CNN.format(loss="cross", optimizer=_ADAM, pool="max", out="3\nactivation = softmax"),
                                 ["--ram-budget", "3000"]),
    "cnn-avgpool-sigmoid-swap": (_CNN.format(loss="cross_sigmoid", optimizer=_SGD, pool="average", out="1"),
                                 ["--ram-budget", "3000", "--lookahead", "1"]),
    "mlp-tanh-dropout-mse-adam": (_MLP.format(loss="mse", optimizer=_ADAM), []),
    "residual-add-sigmoid-swap": (_RESIDUAL.format(loss="cross", optimizer=_ADAM), ["--ram-budget", "3200"]),
}


def plan(ini: str, args: list) -> bytes:
    import tempfile
    from host_tools.cli import main
    with tempfile.TemporaryDirectory() as tmp:
        model, path = Path(tmp) / "model.ini", Path(tmp) / "model.mtb"
        model.write_text(ini)
        here = os.getcwd()
        os.chdir(tmp)  # a relative model path keeps the bundle's MODL "source" byte-identical
        try:
            main(["plan", "model.ini", "-o", str(path), *args])
        finally:
            os.chdir(here)
        return path.read_bytes()


def mutations(data: bytes, rng: np.random.Generator) -> dict:
    out = {"truncated-half": data[: len(data) // 2], "truncated-header": data[:19]}
    for i in range(4):
        flipped = bytearray(data)
        flipped[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        out[f"bitflip-{i}"] = bytes(flipped)
    return out


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    rng = np.random.default_rng(2024)
    for name, data in valid_bundles().items():
        (CORPUS / f"{name}.mtb").write_bytes(data)
        if name == "valid-full":
            for mutation, damaged in mutations(data, rng).items():
                (CORPUS / f"mutated-{mutation}.mtb").write_bytes(damaged)


if __name__ == "__main__":
    main()
