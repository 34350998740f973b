"""Flash, train and pull through a noisy line: rate -> throughput, all verified.

    python bench/noisy_link.py [--rates 0.001,0.01,0.02,0.05] [--samples 96] [--seed 1]

A simulated board (board/sim.py) sits behind board/noisy_line.py, which drops,
duplicates, bit-flips or stalls a share `rate` of the bytes in each direction.
For each rate, on a fresh board: flash a bundle of the digits MLP with its data
(verified: the board's stored bundle equals the file; a piece of it announced
with a wrong CRC is refused and changes nothing), train it to the end
(verified: the checkpoint says FINISHED), pull weights and checkpoint (verified:
the weights equal a host run of `microtrain train` with the same seed, bit for
bit). Prints one Markdown table row per rate; flash and pull KiB/s are bytes of
payload over wall-clock seconds.
"""
import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from board import checkpoint  # noqa: E402
from board.noisy_line import NoisyLine  # noqa: E402
from board.sim import start_board_sim  # noqa: E402
from host_tools.cli import main as microtrain  # noqa: E402
from host_tools.data import digits  # noqa: E402
from host_tools.device.bundle_file import load_bundle  # noqa: E402
from host_tools.device.client import BoardClient  # noqa: E402
from host_tools.device.progress import Progress  # noqa: E402
from host_tools.errors import UserError  # noqa: E402
from protocol import messages as m  # noqa: E402
from protocol.crc32 import crc32  # noqa: E402
from protocol.transfer import UploadRejected, upload  # noqa: E402

MODEL = """\
[Model]
type = NeuralNetwork
loss = cross
batch_size = 16
epochs = 2

[Optimizer]
type = adam
learning_rate = 0.005

[input]
type = input
input_shape = 1:8:8

[flatten]
type = flatten

[hidden]
type = fully_connected
unit = 16
activation = relu

[output]
type = fully_connected
unit = 10
activation = softmax
"""
TRAIN_SECONDS = 300
CHECK_SECONDS = 3.0
WRONG_CRC_BYTES = 512   # an upload announced with a wrong CRC: short, as only the verdict matters


def prepare(workdir, model, x, y, seed):
    """-> (bundle path, reference weights npz path): a bundle with its data and a
    host run of it (`microtrain train`, same seed)."""
    ini, npz = workdir / "model.ini", workdir / "data.npz"
    ini.write_text(model)
    np.savez(npz, x=x, y=y)
    bundle, reference = workdir / "model.mtb", workdir / "host.npz"
    common = ["--seed", str(seed), "--data", str(npz)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert microtrain(["plan", str(ini), "-o", str(bundle), *common]) == 0
        assert microtrain(["train", str(ini), *common, "--quiet",
                           "--dump-weights", str(reference)]) == 0
    return bundle, reference


def connect(port, seconds=30.0):
    deadline = time.monotonic() + seconds
    while True:
        client = BoardClient(port)
        try:
            client.hello()
            return client
        except UserError:
            client.close()
            if time.monotonic() > deadline:
                raise


def noisy_session(bundle_path, reference_npz, rate, seed, storage, corrupt_check=False):
    """Flash, train, pull through a NoisyLine -> figures; AssertionError if anything is off.
    corrupt_check: also upload a piece of the bundle announced with a wrong CRC, which
    must be refused without touching the stored bundle."""
    port, sim = start_board_sim(storage, stderr=subprocess.DEVNULL)
    line = NoisyLine(port, rate, seed)
    try:
        client = connect(line.port_path)
        bundle = load_bundle(bundle_path)
        started = time.monotonic()
        client.flash(bundle)
        flash_seconds = time.monotonic() - started
        assert (Path(storage) / "bundle.mtb").read_bytes() == bundle.data, "stored bundle differs"
        if corrupt_check:
            refuse_wrong_crc(client, bundle.data[:WRONG_CRC_BYTES])
            assert (Path(storage) / "bundle.mtb").read_bytes() == bundle.data
        started = time.monotonic()
        client.start()
        info = wait_finished(client)
        train_seconds = time.monotonic() - started
        started = time.monotonic()
        weights = client.download(m.WHAT_WEIGHTS)
        ckpt = client.download(m.WHAT_CHECKPOINT)
        pull_seconds = time.monotonic() - started
        assert checkpoint.decode(ckpt)[0]["seq"] == info["seq"], "checkpoint changed"
        check_weights(weights, bundle.view.model["params"], reference_npz)
        stats = client.link.stats
        client.close()
        return {"rate": rate, "flash_bytes": len(bundle.data), "train_s": train_seconds, "flash_s": flash_seconds,
                "pull_bytes": len(weights) + len(ckpt), "pull_s": pull_seconds,
                "hits": sum(line.hits.values()), "resent": stats["resent"]}
    finally:
        line.close()
        sim.stop()


def refuse_wrong_crc(client, data):
    try:
        with client.talking("uploading a bundle with a wrong CRC"):
            upload(client.link, m.KIND_BUNDLE, data, declared_crc=crc32(data) ^ 1)
    except UploadRejected as rejected:
        assert rejected.result["reason"] == m.REJECT_CRC
        return
    raise AssertionError("a bundle with a wrong CRC was accepted")


def wait_finished(client):
    """Waits for the run's end (a PROGRESS event, or, as events may be lost on the
    line, now and then the board's checkpoint) -> the final checkpoint's header."""
    deadline = time.monotonic() + TRAIN_SECONDS
    next_check = time.monotonic() + CHECK_SECONDS
    while time.monotonic() < deadline:
        client.pump(0.05)
        if any(isinstance(e, Progress) and e.done for e in client.events):
            break
        if time.monotonic() >= next_check:
            if checkpoint.decode(client.download(m.WHAT_CHECKPOINT))[0]["state"] != m.STATE_RUNNING:
                break
            next_check = time.monotonic() + CHECK_SECONDS
    info, _ = checkpoint.decode(client.download(m.WHAT_CHECKPOINT))
    assert info["state"] == m.STATE_FINISHED and info["iteration"] == info["target_iterations"]
    return info


def check_weights(blob, params, reference_npz):
    """The weights blob (u32 id | u32 nbytes | bytes, sorted keys) equals the host run's npz."""
    offset = 0
    with np.load(reference_npz) as reference:
        for key in sorted(params):
            nbytes = int(np.frombuffer(blob, "<u4", 1, offset + 4)[0])
            got = blob[offset + 8:offset + 8 + nbytes]
            assert got == reference[key].astype(np.float32).tobytes(), key
            offset += 8 + nbytes
    assert offset == len(blob)


def row(figures):
    kib = 1024.0
    return "| %.1f %% | %.2f | %.1f | %.2f | %d | %d | yes |" % (
        figures["rate"] * 100, figures["flash_bytes"] / kib / figures["flash_s"],
        figures["train_s"], figures["pull_bytes"] / kib / figures["pull_s"], figures["hits"],
        figures["resent"])


HEADER = ("| damaged bytes | flash KiB/s | train s (incl. checkpoint polls) | pull KiB/s "
          "| bytes hit | host resends | verified |\n|---|---|---|---|---|---|---|")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.001,0.01,0.02,0.05")
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="microtrain-noisy-") as name:
        workdir = Path(name)
        data = digits()
        bundle, reference = prepare(workdir, MODEL, data.x[:args.samples], data.y[:args.samples],
                                    args.seed)
        print("bundle %d bytes, %d samples" % (bundle.stat().st_size, args.samples))
        print(HEADER)
        for index, rate in enumerate(float(r) for r in args.rates.split(",")):
            figures = noisy_session(bundle, reference, rate, args.seed + index,
                                    workdir / ("board%d" % index), corrupt_check=True)
            print(row(figures), flush=True)


if __name__ == "__main__":
    main()
