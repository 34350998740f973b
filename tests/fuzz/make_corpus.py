"""Writes the seed corpus: a few valid small bundles and deterministic
mutations of them (truncations, bit flips, foreign sections). Re-run after a
format change: python tests/fuzz/make_corpus.py"""
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
