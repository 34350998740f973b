"""The device agent (board/) driven over a real pty with Link, as a host would.

A small MLP (12 -> 16 -> 4, batch 8) and 96 samples keep every bundle ~12 KB
and training fast; one variant swaps to flash (--ram-budget) so the flash
home of persistent tensors is exercised too. Reference weights come from the
host's `microtrain train` with the same seed: the board must match bit for bit,
also after being killed (SIGKILL) at random moments.
"""
import random
import struct
import threading
import time

import numpy as np
import pytest

from board import checkpoint
from core_cy._core import KERNEL_ABI_VERSION
from protocol import Link, LinkError, messages as m
from protocol.crc32 import crc32
from protocol.serial_port import open_serial
from protocol.transfer import UploadRejected, download, upload
from board.samples import encode_samples
from board.sim import start_board_sim
from core_cy import read_bundle
from host_tools.cli import main as microtrain

MODEL = """
[Model]
type = NeuralNetwork
loss = cross
batch_size = 8
epochs = 2

[Optimizer]
type = adam
learning_rate = 0.01

[input]
type = input
input_shape = 1:1:12

[hidden]
type = fully_connected
unit = 16
activation = relu

[output]
type = fully_connected
unit = 4
activation = softmax
"""
SEED = 3
SWAP_BUDGET = "3400"     # below the 5,200-byte arena: persistent tensors live in flash
ARENA_BYTES = 5200


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Model, data and bundles, built once with the host tools."""
    root = tmp_path_factory.mktemp("model")
    ini, npz = root / "tiny.ini", root / "data.npz"
    ini.write_text(MODEL)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((96, 1, 1, 12)).astype(np.float32)
    y = rng.integers(0, 4, 96)
    np.savez(npz, x=x, y=y)

    def plan(name, *extra):
        path = root / name
        assert microtrain(["plan", str(ini), "-o", str(path), "--checkpoint-every", "5",
                           *extra]) == 0
        return path.read_bytes()

    out = {"ini": ini, "npz": npz, "x": x, "y": y, "root": root}
    out["plain"] = plan("plain.mtb", "--seed", str(SEED))
    out["swap"] = plan("swap.mtb", "--seed", str(SEED), "--ram-budget", SWAP_BUDGET)
    out["with_data"] = plan("data.mtb", "--seed", str(SEED), "--data", str(npz))
    out["other"] = plan("other.mtb", "--seed", "1", "--data", str(npz))
    out["long"] = plan("long.mtb", "--seed", str(SEED), "--data", str(npz), "--epochs", "150",
                       "--ram-budget", SWAP_BUDGET, "--checkpoint-every", "10")
    return out


def host_weights(files, epochs):
    """`microtrain train ... --dump-weights` on the host: the reference."""
    out = files["root"] / f"host_{epochs}.npz"
    if not out.exists():
        assert microtrain(["train", str(files["ini"]), "--data", str(files["npz"]), "--seed",
                           str(SEED), "--epochs", str(epochs), "--quiet",
                           "--dump-weights", str(out)]) == 0
    with np.load(out) as archive:
        return {key: archive[key] for key in archive.files}


class Host:
    """The host end of the pty: a Link that collects every event."""

    def __init__(self, port):
        self.transport = open_serial(port)
        self.events = []
        self.connect()

    def connect(self, ack_timeout=0.2):
        """A fresh Link (after the board was killed), stale bytes dropped."""
        self.transport.reset_input_buffer()
        self.link = Link(self.transport, on_event=self._event, max_inbox=64,
                         ack_timeout=ack_timeout, reply_timeout=25 * ack_timeout)

    def _event(self, message):
        self.events.append((time.monotonic(), message.msg_type, m.decode(message.msg_type, message.payload)))

    def request(self, msg_type, expected=m.OK, timeout=None, **fields):
        return m.expect(self.link.request(msg_type, m.encode(msg_type, **fields), timeout=timeout), expected)

    def hello(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:  # the agent may still be starting up
            try:
                return self.request(m.HELLO, m.INFO, protocol_version=m.PROTOCOL_VERSION)
            except LinkError:
                if time.monotonic() > deadline:
                    raise

    def train(self, epochs=0, iterations=0, checkpoint_every=0):
        return self.request(m.TRAIN_START, epochs=epochs, iterations=iterations,
                            checkpoint_every=checkpoint_every)

    def progress(self):
        return [fields for _, kind, fields in self.events if kind == m.PROGRESS]

    def logs(self):
        return [fields for _, kind, fields in self.events if kind == m.LOG]

    def wait_for_end(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.link.poll(0.02)
            ends = [p for p in self.progress() if p["state"] != m.STATE_RUNNING]
            if ends:
                return ends[-1]
        raise AssertionError("training did not end within %.0f s" % timeout)

    def weights(self, bundle):
        """DOWNLOAD weights -> {npz key: float32 array}, checked against MODL params."""
        blob, params = download(self.link, m.WHAT_WEIGHTS), read_bundle(bundle).model["params"]
        out, offset = {}, 0
        for key in sorted(params):
            tid, nbytes = struct.unpack_from("<II", blob, offset)
            assert tid == params[key]["tensor"]
            out[key] = np.frombuffer(blob[offset + 8:offset + 8 + nbytes], np.float32).reshape(
                params[key]["shape"])
            offset += 8 + nbytes
        assert offset == len(blob)
        return out


@pytest.fixture
def board(tmp_path):
    """Start a simulated board; yields a function (ram_limit=..., name=...) -> (Host, sim)."""
    sims = []

    def start(**options):
        log = open(tmp_path / "agent.log", "ab")
        port, sim = start_board_sim(tmp_path / "flash", stderr=log, **options)
        sims.append(sim)
        host = Host(port)
        host.hello()
        return host, sim

    yield start
    for sim in sims:
        sim.stop()
    log = tmp_path / "agent.log"
    if log.exists():
        print(log.read_text())


def flash_file(sim, name):
    with open(f"{sim.storage_dir}/{name}", "rb") as handle:
        return handle.read()


def newest_valid_slot(sim, bundle_crc):
    """The header of the newest slot whose CRC checks, for that bundle; one must exist."""
    infos = [checkpoint.decode(flash_file(sim, name)) for name in checkpoint.SLOTS]
    infos = [d[0] for d in infos if d is not None and d[0]["bundle_crc"] == bundle_crc]
    assert infos, "no valid checkpoint slot"
    return max(infos, key=lambda info: info["seq"])


def assert_same_weights(got, expected):
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key].tobytes() == expected[key].astype(np.float32).tobytes(), key


# ---- INFO, uploads ----------------------------------------------------------------

def assert_board_trains_as_host(root, bundle, x, y, host_npz):
    """The board simulator trains BUNDLE (bytes) on (x, y), swapping, to the weights the
    host run dumped in HOST_NPZ, bit for bit."""
    port, sim = start_board_sim(root / "flash", stderr=open(root / "agent.log", "ab"))
    try:
        host = Host(port)
        host.hello()
        upload(host.link, m.KIND_BUNDLE, bundle)
        upload(host.link, m.KIND_SAMPLES, encode_samples(x, y))
        host.train()
        end = host.wait_for_end()
        assert end["state"] == m.STATE_FINISHED and end["swap_read_bytes"] > 0
        got = host.weights(bundle)
    finally:
        sim.stop()
    with np.load(host_npz) as expected:
        assert_same_weights(got, {key: expected[key] for key in expected.files})


def test_hello_reports_ram_flash_name_and_kernel(board):
    host, _ = board(ram_limit=123456, name="bench-7")
    info = host.hello()
    assert info["ram_bytes"] == 123456
    assert info["device_name"] == "bench-7"
    assert info["kernel_version"] == "abi%d" % KERNEL_ABI_VERSION
    assert 0 < info["flash_bytes"] <= 0xFFFFFFFF


def test_accepted_bundle_is_stored_and_serves_initial_weights(board, files):
    host, sim = board()
    result = upload(host.link, m.KIND_BUNDLE, files["plain"])
    assert result["reason"] == m.UPLOAD_ACCEPTED
    assert flash_file(sim, "bundle.mtb") == files["plain"]
    initial = {r.tensor: r.data for r in read_bundle(files["plain"]).init}
    params = read_bundle(files["plain"]).model["params"]
    for key, value in host.weights(files["plain"]).items():
        assert value.tobytes() == initial[params[key]["tensor"]]


def corrupted(bundle):
    """Right length and transfer CRC, but a flipped byte inside a section payload."""
    damaged = bytearray(bundle)
    damaged[len(bundle) // 2] ^= 0x40
    return bytes(damaged)


@pytest.mark.parametrize("case", ["corrupt", "too_big"])
def test_rejected_bundle_leaves_the_old_one_intact(board, files, case):
    host, sim = board(ram_limit=4096)      # fits the swap bundle (3,392 B), not the plain one
    upload(host.link, m.KIND_BUNDLE, files["swap"])
    bad, reason = ((corrupted(files["swap"]), m.REJECT_INVALID_BUNDLE) if case == "corrupt"
                   else (files["plain"], m.REJECT_TOO_BIG))
    with pytest.raises(UploadRejected) as rejected:
        upload(host.link, m.KIND_BUNDLE, bad)
    assert rejected.value.result["reason"] == reason
    errors = [log for log in host.logs() if log["level"] == m.LOG_ERROR]
    assert errors, "a LOG at level ERROR must precede the UPLOAD_RESULT"
    expected_text = "invalid bundle: " if case == "corrupt" else "bundle too big: its arena needs 5200"
    assert errors[-1]["text"].startswith(expected_text), errors[-1]["text"]
    assert flash_file(sim, "bundle.mtb") == files["swap"]
    host.request(m.RESET)
    assert host.weights(files["swap"])  # the old bundle is still the loaded one


def test_samples_upload_is_stored_and_checked_against_the_bundle_at_train_start(board, files):
    host, sim = board()
    blob = encode_samples(files["x"], files["y"])
    upload(host.link, m.KIND_SAMPLES, blob)  # no bundle yet: accepted anyway
    assert flash_file(sim, "samples.bin") == blob
    with pytest.raises(UploadRejected) as rejected:
        upload(host.link, m.KIND_SAMPLES, b"MTSD" + bytes(20))
    assert rejected.value.result["reason"] == m.REJECT_INVALID_SAMPLES
    upload(host.link, m.KIND_BUNDLE, files["plain"])
    upload(host.link, m.KIND_SAMPLES, encode_samples(files["x"][:, :, :, :6], files["y"]))
    with pytest.raises(m.RemoteError) as error:
        host.train()
    assert error.value.code == m.ERR_BAD_STATE and "x_numel 6" in error.value.text


def test_train_start_needs_a_bundle_and_data(board, files):
    host, _ = board()
    with pytest.raises(m.RemoteError) as error:
        host.train()
    assert error.value.code == m.ERR_NOT_FOUND
    upload(host.link, m.KIND_BUNDLE, files["plain"])  # no DATA section, no samples
    with pytest.raises(m.RemoteError) as error:
        host.train()
    assert error.value.code == m.ERR_NOT_FOUND and "no training data" in error.value.text
    with pytest.raises(m.RemoteError) as error:
        download(host.link, m.WHAT_CHECKPOINT)
    assert error.value.code == m.ERR_NOT_FOUND


# ---- training -----------------------------------------------------------------------

@pytest.mark.parametrize("bundle", ["plain", "swap"])
def test_trained_weights_equal_the_host_run_bit_for_bit(board, files, bundle):
    host, _ = board()
    upload(host.link, m.KIND_BUNDLE, files[bundle])
    upload(host.link, m.KIND_SAMPLES, encode_samples(files["x"], files["y"]))
    host.train(epochs=3)
    end = host.wait_for_end()
    assert end["state"] == m.STATE_FINISHED
    assert (end["iteration"], end["total_iterations"], end["epoch"]) == (36, 36, 3)
    epochs_seen = {p["epoch"] for p in host.progress()}
    assert epochs_seen == {1, 2, 3}, "a PROGRESS at every epoch end"
    if bundle == "swap":
        assert end["swap_read_bytes"] > 0 and end["arena_bytes"] < ARENA_BYTES
    assert_same_weights(host.weights(files[bundle]), host_weights(files, 3))
    blob = download(host.link, m.WHAT_CHECKPOINT)
    info, _ = checkpoint.decode(blob)
    assert (info["state"], info["iteration"]) == (m.STATE_FINISHED, 36)


def test_bundle_data_is_used_without_samples_and_reset_keeps_the_result(board, files):
    host, _ = board()
    upload(host.link, m.KIND_BUNDLE, files["with_data"])
    host.train()  # the bundle's TRAN: 2 epochs
    assert host.wait_for_end()["state"] == m.STATE_FINISHED
    expected = host_weights(files, 2)
    assert_same_weights(host.weights(files["with_data"]), expected)
    host.request(m.RESET)
    assert_same_weights(host.weights(files["with_data"]), expected)


def test_board_answers_and_reports_progress_while_training_then_stops(board, files):
    host, _ = board()
    upload(host.link, m.KIND_BUNDLE, files["long"])
    host.train()
    time.sleep(0.6)
    started = time.monotonic()
    assert host.hello()["device_name"] == "microtrain-sim"
    weights = host.weights(files["long"])  # a consistent snapshot mid-training
    assert time.monotonic() - started < 1.0
    with pytest.raises(m.RemoteError) as busy:
        host.train()
    assert busy.value.code == m.ERR_BAD_STATE
    host.request(m.TRAIN_STOP)
    end = host.wait_for_end()
    assert end["state"] == m.STATE_STOPPED and 0 < end["iteration"] < end["total_iterations"]
    times = [t for t, kind, fields in host.events if kind == m.PROGRESS]
    assert max(np.diff(times)) < 0.5, "PROGRESS at least every ~0.25 s"
    info, tensors = checkpoint.decode(download(host.link, m.WHAT_CHECKPOINT))
    assert (info["state"], info["iteration"]) == (m.STATE_STOPPED, end["iteration"])
    assert weights and len(tensors) == len(read_bundle(files["long"]).init)


def test_a_damaged_newest_checkpoint_slot_is_never_chosen(board, files, tmp_path):
    host, sim = board()
    upload(host.link, m.KIND_BUNDLE, files["with_data"])
    host.train(checkpoint_every=4)
    host.wait_for_end()
    slots = {name: checkpoint.decode(flash_file(sim, name)) for name in checkpoint.SLOTS}
    newest = max(slots, key=lambda name: slots[name][0]["seq"])
    older = min(slots, key=lambda name: slots[name][0]["seq"])
    sim.power_cut()
    damaged = bytearray(flash_file(sim, newest))
    damaged[100] ^= 1
    open(f"{sim.storage_dir}/{newest}", "wb").write(damaged)
    sim.start()
    host.connect()
    host.hello()
    # the older slot is an unfinished run (iteration 20 of 24): the board resumed it
    # (it may finish before the host is connected: it drops what was sent before it booted)
    deadline = time.monotonic() + 30
    while True:
        info, _ = checkpoint.decode(download(host.link, m.WHAT_CHECKPOINT))
        if info["state"] != m.STATE_RUNNING or time.monotonic() > deadline:
            break
        host.link.poll(0.05)
    assert (info["state"], info["iteration"]) == (m.STATE_FINISHED, 24)
    assert info["seq"] == slots[older][0]["seq"] + 1, "the damaged slot's seq was used"
    assert "resumed training at iteration 20 of 24" in (tmp_path / "agent.log").read_text()
    assert_same_weights(host.weights(files["with_data"]), host_weights(files, 2))


# ---- power loss ----------------------------------------------------------------------

def test_power_loss_during_upload_and_training(board, files):
    """SIGKILL at 30 random moments: 10 during bundle uploads, 20 during training.
    The bundle is always the old or the new one, intact; the checkpoint the board
    picks is always valid and never goes back; training resumes by itself and
    ends with the weights of an uninterrupted run."""
    rng = random.Random(20240601)
    host, sim = board()
    host.connect(ack_timeout=0.1)  # a killed board costs the host ~1 s, not ~2 s
    a, b = files["other"], files["long"]
    upload(host.link, m.KIND_BUNDLE, a)
    started = time.monotonic()
    upload(host.link, m.KIND_BUNDLE, b)
    upload_seconds = time.monotonic() - started
    crcs = {crc32(a), crc32(b)}

    def check_bundle():
        stored = flash_file(sim, "bundle.mtb")
        read_bundle(stored)
        assert crc32(stored) in crcs
        return stored

    interrupted = replaced = 0
    for round_ in range(10):  # kill while a bundle replaces the other one
        target = a if check_bundle() == b else b
        # even rounds: at a random byte of the transfer; odd: at a random moment,
        # which may also fall into the validation and installation after UPLOAD_END
        cut = rng.randrange(1, len(target)) if round_ % 2 == 0 else None
        killer = threading.Timer(rng.uniform(0, 2 * upload_seconds) if cut is None else 1e6,
                                 sim.power_cut)
        killer.start()

        def kill_at_cut(done, total):
            if cut is not None and done >= cut:
                sim.power_cut()
        try:
            upload(host.link, m.KIND_BUNDLE, target, on_progress=kill_at_cut)
        except (LinkError, UploadRejected, m.RemoteError):
            interrupted += 1
        killer.cancel()
        killer.join()
        sim.power_cut()
        sim.start()
        host.connect(ack_timeout=0.1)
        host.hello()
        replaced += check_bundle() == target

    assert interrupted >= 5, "kills must hit uploads in progress"
    if check_bundle() != b:
        upload(host.link, m.KIND_BUNDLE, b)
    host.train()
    last_iteration, mid_training = -1, 0
    for _ in range(20):  # kill while training (and resuming)
        time.sleep(rng.uniform(0.0, 0.3))
        ended = any(p["state"] != m.STATE_RUNNING for p in host.progress())
        sim.power_cut()
        mid_training += not ended
        durable = newest_valid_slot(sim, crc32(b))  # what survived the power cut
        assert durable["iteration"] >= last_iteration, "a checkpoint went back in time"
        sim.start()
        host.connect(ack_timeout=0.1)
        host.hello()
        assert check_bundle() == b
        info, _ = checkpoint.decode(download(host.link, m.WHAT_CHECKPOINT))  # the board's pick
        assert info["bundle_crc"] == crc32(b) and info["iteration"] >= durable["iteration"]
        last_iteration = info["iteration"]
    print("uploads interrupted: %d of 10 (%d replaced the bundle), kills mid-training: %d of 20"
          % (interrupted, replaced, mid_training))
    assert mid_training >= 5, "kills must hit a running training"
    deadline = time.monotonic() + 60
    while info["state"] != m.STATE_FINISHED:  # the last resumed run goes on by itself
        assert time.monotonic() < deadline, "the resumed training did not finish"
        host.link.poll(0.2)
        info, _ = checkpoint.decode(download(host.link, m.WHAT_CHECKPOINT))
    assert info["iteration"] == 150 * 12
    assert_same_weights(host.weights(b), host_weights(files, 150))
