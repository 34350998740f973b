"""Micro-batched programs in bundles (issue 11): the MICR section carries the
passes per iteration, the C reader gives them to the executor, and the CPython
board and the bare-metal firmware then train bit for bit as the host's
`microtrain train --micro-batch M` does (also with swap), not as the plain
batch does."""
import numpy as np
import pytest

from core_cy import BundleError, read_bundle
from host_tools.bundle import layout
from host_tools.bundle.writer import assemble, content_sections
from host_tools.bundle.from_program import bundle_content
from host_tools.cli import main
from host_tools.graph.training_graph import build_training_graph
from host_tools.program import build_program
from host_tools.model.load import load_model
from host_tools.device.targets import BAREMETAL_RAM_BYTES
from protocol import messages as m
from protocol.transfer import upload
from board.samples import encode_samples
from board.sim import start_board_sim
from test_board_agent import MODEL, SEED, SWAP_BUDGET, Host, assert_same_weights
from test_firmware_qemu import CNN, assert_bit_identical, train_on_board, work  # noqa: F401

MICRO = "2"   # batch 8 -> 4 passes per iteration
EPOCHS = "2"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("micro")
    (root / "tiny.ini").write_text(MODEL)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((96, 1, 1, 12)).astype(np.float32), rng.integers(0, 4, 96)
    np.savez(root / "data.npz", x=x, y=y)
    return root, x, y


def plan(root, name, *extra):
    path = root / name
    assert main(["plan", str(root / "tiny.ini"), "-o", str(path), "--seed", str(SEED),
                 "--epochs", EPOCHS, *extra]) == 0
    return path.read_bytes()


def host_weights(root, *extra):
    out = root / "host.npz"
    assert main(["train", str(root / "tiny.ini"), "--data", str(root / "data.npz"), "--seed",
                 str(SEED), "--epochs", EPOCHS, "--quiet", "--dump-weights", str(out), *extra]) == 0
    with np.load(out) as archive:
        return {key: archive[key] for key in archive.files}


def test_the_bundle_says_how_many_passes_make_an_iteration(tiny):
    view = read_bundle(plan(tiny[0], "micro.mtb", "--micro-batch", MICRO))
    assert (view.batch, view.micro_batches, view.iteration_samples) == (2, 4, 8)
    assert view.minor == layout.FORMAT_MINOR == 1
    plain = read_bundle(plan(tiny[0], "plain.mtb"))
    assert (plain.batch, plain.micro_batches, plain.iteration_samples) == (8, 1, 8)


def micro_sections(tiny):
    spec = load_model(str(tiny[0] / "tiny.ini"))
    spec.micro_batch = 2
    program = build_program(build_training_graph(spec), "best")
    return content_sections(bundle_content(program, seed=SEED))


@pytest.mark.parametrize("payload, message", [
    (b"\0\0\0\0", "section MICR: 0 micro-batches of 2 samples"),
    (b"\4\0\0\0\0\0\0\0", "section MICR: 8 bytes, expected 4"),
    (b"\xff\xff\xff\xff", "section MICR: 4294967295 micro-batches of 2 samples")])
def test_a_bad_micr_section_is_refused_in_one_line(tiny, payload, message):
    sections = [(tag, payload if tag == layout.TAG_MICRO else body)
                for tag, body in micro_sections(tiny)]
    with pytest.raises(BundleError, match=message):
        read_bundle(assemble(sections))


def test_micr_is_mandatory_so_a_reader_that_ignores_it_would_refuse(tiny):
    """Uppercase tag: a reader without MICR refuses rather than trains unaccumulated."""
    tags = [tag for tag, _ in micro_sections(tiny)]
    assert layout.TAG_MICRO in tags and layout.TAG_MICRO[:1].isupper()
    renamed = [(b"MICX" if tag == layout.TAG_MICRO else tag, body)
               for tag, body in micro_sections(tiny)]
    with pytest.raises(BundleError, match="MICX"):
        read_bundle(assemble(renamed))


@pytest.fixture
def board(tmp_path):
    sims = []

    def start():
        port, sim = start_board_sim(tmp_path / "flash", stderr=open(tmp_path / "agent.log", "ab"))
        sims.append(sim)
        host = Host(port)
        host.hello()
        return host

    yield start
    for sim in sims:
        sim.stop()


@pytest.mark.parametrize("swap", [False, True])
def test_board_trains_the_micro_batched_bundle_as_the_host_does(tiny, board, swap):
    root, x, y = tiny
    extra = ["--ram-budget", SWAP_BUDGET] if swap else []
    bundle = plan(root, "board.mtb", "--micro-batch", MICRO, *extra)
    host = board()
    upload(host.link, m.KIND_BUNDLE, bundle)
    upload(host.link, m.KIND_SAMPLES, encode_samples(x, y))
    host.train()
    end = host.wait_for_end()
    assert end["state"] == m.STATE_FINISHED
    assert (end["iteration"], end["epoch"]) == (24, 2)   # 96 samples / 8 per iteration, 2 epochs
    if swap:
        assert end["swap_read_bytes"] > 0
    got = host.weights(bundle)
    assert_same_weights(got, host_weights(root, "--micro-batch", MICRO))
    plain = host_weights(root)   # the accumulation changes the bits: MICR was acted on
    assert any(got[key].tobytes() != plain[key].tobytes() for key in plain)


def test_firmware_trains_the_micro_batched_cnn_as_the_host_does(work, tmp_path):  # noqa: F811
    assert_firmware_trains_as_host(CNN, work, tmp_path, 4)


def assert_firmware_trains_as_host(model, data_dir, tmp_path, passes):
    """MODEL at batch 16 in PASSES passes on the Cortex-M4F firmware in QEMU (samples:
    DATA_DIR/data.npz) pulls the weights the host's swapped run dumps, bit for bit."""
    common = ["--seed", "7", "--epochs", "1", "--batch", "16", "--micro-batch", str(16 // passes)]
    bundle = tmp_path / "cnn.mtb"
    assert main(["plan", str(model), "-o", str(bundle), "--target", "baremetal-m4f", *common]) == 0
    assert read_bundle(bundle.read_bytes()).micro_batches == passes
    assert main(["train", str(model), "--data", str(data_dir / "data.npz"), *common, "--quiet",
                 "--ram-budget", str(BAREMETAL_RAM_BYTES),
                 "--swap-file", str(tmp_path / "swap.bin"),
                 "--dump-weights", str(tmp_path / "host.npz")]) == 0
    _, pulled = train_on_board("baremetal-m4f", data_dir, tmp_path / "board",
                               tmp_path / "board.npz", bundle)
    assert_bit_identical(np.load(tmp_path / "host.npz"), pulled)
