"""board/mp_engine.py under MicroPython's unix port (with the _microtrain C module)
against board/trainer.py under CPython: real bundles written by `microtrain plan`
(digits MLP, a small CNN, the CNN swapping to flash) trained the same way by
tests/micropython_engine_driver.py on both must give identical per-chunk loss and
correct sums, held-out accuracies, weights and optimizer state, bit for bit, also
across a checkpoint round trip (read, reset, write back). A damaged bundle raises
BundleError with the C reader's message; an arena beyond the heap is a clean error."""

import json
import subprocess
import sys

import numpy as np
import pytest

from board.samples import encode_samples
from host_tools.cli import main as microtrain
from host_tools.data import digits
from micropython_fixtures import REPO, micropython_unix, run_micropython  # noqa: F401

DRIVER = REPO / "tests" / "micropython_engine_driver.py"
MLP = REPO / "examples" / "digits_mlp.ini"
CNN = REPO / "examples" / "digits_cnn.ini"
SEED = 7
# Per-iteration losses spanning 32 orders of magnitude (MSE, batch 1, targets scaled by
# 1e-8..1e8, learning rate too small to move anything): their double sums are inexact,
# so only numpy's exact summation order reproduces the CPython engine's.
WIDE_LOSSES_MODEL = """
[Model]
type = NeuralNetwork
loss = mse
batch_size = 1

[Optimizer]
type = sgd
learning_rate = 1e-30

[input]
type = input
input_shape = 1:1:4

[output]
type = fully_connected
unit = 1
"""
CNN_SWAP_BUDGET = "100000"   # below the batch-8 CNN's 165,376-byte arena


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Bundles planned by the host tools, and a samples blob for the upload path."""
    root = tmp_path_factory.mktemp("mp_engine")

    def plan(name, model, *extra):
        assert microtrain(["plan", str(model), "-o", str(root / name), "--seed", str(SEED),
                           *extra]) == 0
        return root / name

    data = digits()
    (root / "samples.bin").write_bytes(encode_samples(data.x[:400], data.y[:400]))
    rng = np.random.default_rng(0)
    wide_y = rng.standard_normal((9000, 1)) * 10.0 ** rng.integers(-8, 9, (9000, 1))
    (root / "wide.bin").write_bytes(encode_samples(rng.standard_normal((9000, 4)), wide_y))
    (root / "wide.ini").write_text(WIDE_LOSSES_MODEL)
    return {"root": root,
            "mlp": plan("mlp.mtb", MLP, "--data", "digits"),
            "mlp_batch4": plan("mlp4.mtb", MLP, "--data", "digits", "--batch", "4"),
            "mlp_micro": plan("mlp_micro.mtb", MLP, "--data", "digits", "--batch", "8",
                              "--micro-batch", "2"),
            "mlp_nodata": plan("mlp_nodata.mtb", MLP),
            "cnn": plan("cnn.mtb", CNN, "--data", "digits", "--batch", "8"),
            "cnn_swap": plan("cnn_swap.mtb", CNN, "--data", "digits", "--batch", "8",
                             "--ram-budget", CNN_SWAP_BUDGET),
            "mlp_huge_batch": plan("mlp_huge_batch.mtb", MLP, "--batch", "2048"),
            "wide": plan("wide.mtb", root / "wide.ini")}


def job_file(work, name, bundle, engine_tag, **job):
    """Writes JOB.json for the driver; each engine gets its own flash file."""
    spec = {"mode": "train", "bundle": str(bundle), "flash": str(work["root"] / (name + engine_tag
                                                                                 + ".flash")),
            "samples": None, "epochs": 1, "chunks": [1], "resume_after": None}
    spec.update(job)
    path = work["root"] / (name + engine_tag + ".json")
    path.write_text(json.dumps(spec))
    return path


def on_cpython(work, name, bundle, **job):
    done = subprocess.run([sys.executable, str(DRIVER), "board.trainer",
                           str(job_file(work, name, bundle, ".cpython", **job))],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def on_micropython(binary, work, name, bundle, heap_bytes=None, **job):
    done = run_micropython(binary, DRIVER, "board.mp_engine",
                           job_file(work, name, bundle, ".micropython", **job), heap_bytes=heap_bytes)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def assert_same_training(binary, work, name, **job):
    expected = on_cpython(work, name, work[name], **job)
    got = on_micropython(binary, work, name, work[name], **job)
    assert expected["sums"] and expected["weights"]
    for key in sorted(expected):
        assert got[key] == expected[key], key
    return got


def test_digits_mlp_trains_bit_identically_across_a_checkpoint_round_trip(micropython_unix, work):
    got = assert_same_training(micropython_unix, work, "mlp", epochs=2, chunks=[1, 2, 5, 8, 13, 44],
                               resume_after=0)
    assert not got["swaps"] and got["swap_bytes"] == [0, 0]
    assert len(got["accuracies"]) == 2 and None not in got["accuracies"]


def test_long_chunks_sum_like_numpy(micropython_unix, work):
    """359 iterations per epoch: chunks of 300 take numpy's pairwise halving (> 128 values)."""
    assert_same_training(micropython_unix, work, "mlp_batch4", chunks=[3, 300, 129, 7])


def test_sums_of_losses_of_every_magnitude_equal_numpys(micropython_unix, work):
    """Chunk lengths through each branch of numpy's pairwise sum: < 8, 8..128 with a
    remainder, halved above 128, and above its 8192-value cast buffer."""
    assert_same_training(micropython_unix, work, "wide", chunks=[5, 100, 595, 8300],
                         samples=str(work["root"] / "wide.bin"))


def test_uploaded_samples_train_bit_identically(micropython_unix, work):
    got = assert_same_training(micropython_unix, work, "mlp_nodata", epochs=2, chunks=[4, 9],
                               samples=str(work["root"] / "samples.bin"))
    assert got["accuracies"] == [None, None]


def test_a_core_error_while_training_carries_the_c_message(micropython_unix, work):
    data = digits()
    labels = data.y[:64].copy()
    labels[37] = 10          # the digits MLP has 10 classes
    bad = work["root"] / "bad_labels.bin"
    bad.write_bytes(encode_samples(data.x[:64], labels))
    expected = on_cpython(work, "bad_labels", work["mlp_nodata"], samples=str(bad), chunks=[2])
    got = on_micropython(micropython_unix, work, "bad_labels", work["mlp_nodata"], samples=str(bad),
                         chunks=[2])
    assert expected["train_error"] == "train: sample index or label out of range"
    assert got["train_error"] == expected["train_error"]


def test_training_allocates_nothing_per_iteration(micropython_unix, work):
    """The heap grows by the same few bytes (the result) for 2 iterations as for 300."""
    script = work["root"] / "allocations.py"
    script.write_text(
        "import gc\n"
        "from board import mp_engine\n"
        "view = mp_engine.inspect_bundle(open(%r, 'rb').read())\n"
        "trainer = mp_engine.Trainer(view, %r)\n"
        "n = trainer.use_bundle_data()\n"
        "order = list(range(n))\n"
        "trainer.train(order, 0, 1)\n"
        "def grown(n_iter):\n"
        "    gc.collect()\n"
        "    gc.disable()\n"
        "    before = gc.mem_alloc()\n"
        "    trainer.train(order, 0, n_iter)\n"
        "    after = gc.mem_alloc()\n"
        "    gc.enable()\n"
        "    return after - before\n"
        "print(grown(2), grown(300), grown(2))\n" % (str(work["mlp_batch4"]),
                                                     str(work["root"] / "alloc.flash")))
    done = run_micropython(micropython_unix, script)
    assert done.returncode == 0, done.stderr
    short, long, again = (int(word) for word in done.stdout.split())
    assert long == short == again and short < 256


def test_small_cnn_trains_bit_identically(micropython_unix, work):
    assert_same_training(micropython_unix, work, "cnn", chunks=[1, 7, 9, 130, 32], resume_after=0)


def test_cnn_swapping_to_flash_trains_bit_identically(micropython_unix, work):
    got = assert_same_training(micropython_unix, work, "cnn_swap", chunks=[5, 40], resume_after=0)
    assert got["swaps"] and got["arena_bytes"] <= int(CNN_SWAP_BUDGET)
    assert got["swap_bytes"][0] > 0 and got["swap_bytes"][1] > 0


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_bundle_raises_bundle_error_with_the_c_message(micropython_unix, work, damage):
    data = bytearray(work["mlp_nodata"].read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "truncate":
        data = data[:len(data) - 3]
    else:
        data = bytearray()
    bad = work["root"] / ("bad_%s.mtb" % damage)
    bad.write_bytes(bytes(data))
    expected = on_cpython(work, "bad_" + damage, bad, mode="load")
    got = on_micropython(micropython_unix, work, "bad_" + damage, bad, mode="load")
    assert expected["error"] == "BundleError" and expected["message"]
    assert got == expected


def test_a_micro_batched_bundle_trains_bit_identically(micropython_unix, work):
    """MICR: gradients of 4 passes of 2 samples accumulated, one update per iteration."""
    assert_same_training(micropython_unix, work, "mlp_micro", chunks=[1, 6, 30])


@pytest.mark.parametrize("name", ["mlp", "cnn_swap", "mlp_nodata", "mlp_micro"])
def test_the_bundle_view_equals_the_cpython_one(micropython_unix, work, name):
    """Header numbers, TRAN, INIT records, op / tensor / swap records, data sets, MODL, NAME."""
    expected = on_cpython(work, "view_" + name, work[name], mode="load")["view"]
    got = on_micropython(micropython_unix, work, "view_" + name, work[name], mode="load")["view"]
    assert expected["init"] and expected["model"]["params"]
    for key in sorted(expected):
        assert got[key] == expected[key], key


def test_a_misaligned_buffer_is_read_from_an_aligned_copy(micropython_unix, work):
    script = work["root"] / "misaligned.py"
    script.write_text(
        "from board import mp_engine\n"
        "data = open(%r, 'rb').read()\n"
        "shifted = memoryview(b'x' + data)[1:]\n"
        "view = mp_engine.inspect_bundle(shifted)\n"
        "print(view.arena_bytes, view.n_tensors, len(view.init))\n" % str(work["mlp_nodata"]))
    done = run_micropython(micropython_unix, script)
    assert done.returncode == 0, done.stderr
    expected = on_cpython(work, "aligned", work["mlp_nodata"], mode="load")
    assert done.stdout.split()[0] == str(expected["arena_bytes"])


def test_an_arena_beyond_the_heap_is_a_clean_runtime_error(micropython_unix, work):
    """A 61 KB bundle whose 1.7 MB arena (batch 2048) cannot come from a 512 KB heap:
    the RuntimeError the agent reports as 'bundle cannot run on this board'."""
    got = on_micropython(micropython_unix, work, "big", work["mlp_huge_batch"], mode="load",
                         heap_bytes=512 * 1024)
    assert got["error"] == "RuntimeError"
    arena = on_cpython(work, "big", work["mlp_huge_batch"], mode="load")["arena_bytes"]
    assert arena > 1024 * 1024
    assert got["message"] == "not enough RAM for the arena: the bundle needs %d bytes" % arena
