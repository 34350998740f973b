"""Flash, train and pull through a noisy line: rate -> throughput, all verified.

    python bench/noisy_link.py [--rates 0.001,0.01,0.02,0.05] [--samples 400] [--seed 1]

A simulated board (board/sim.py) sits behind board/noisy_line.py, which drops,
duplicates, bit-flips or stalls a share `rate` of the bytes in each direction.
For each rate, on a fresh board: flash a bundle of the digits MLP with its data
(verified: the board's stored bundle equals the file), train it to the end
(verified: the checkpoint says FINISHED), pull weights and checkpoint (verified:
the weights equal a host run of `microtrain train` with the same seed, bit for
bit). Prints one Markdown table row per rate; flash and pull KiB/s are bytes of
payload over wall-clock seconds.
"""
import argparse
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
from host_tools.errors import UserError  # noqa: E402
from protocol import messages as m  # noqa: E402

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
TRAIN_SECONDS = 120


def prepare(workdir, samples, seed, model=MODEL):
    """-> (bundle path, reference weights npz path): the bundle and a host run of it."""
    ini, npz = workdir / "model.ini", workdir / "data.npz"
    ini.write_text(model)
    data = digits()
    np.savez(npz, x=data.x[:samples], y=data.y[:samples])
    bundle, reference = workdir / "model.mtb", workdir / "host.npz"
    common = ["--seed", str(seed), "--data", str(npz)]
    assert microtrain(["plan", str(ini), "-o", str(bundle), *common]) == 0
    assert microtrain(["train", str(ini), *common, "--quiet", "--dump-weights", str(reference)]) == 0
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


def noisy_session(bundle_path, reference_npz, rate, seed, storage):
    """Flash, train, pull through a NoisyLine -> figures; AssertionError if anything is off."""
    port, sim = start_board_sim(storage, stderr=subprocess.DEVNULL)
    line = NoisyLine(port, rate, seed)
    try:
        client = connect(line.port_path)
        bundle = load_bundle(bundle_path)
        started = time.monotonic()
        client.flash(bundle)
        flash_seconds = time.monotonic() - started
        assert (Path(storage) / "bundle.mtb").read_bytes() == bundle.data, "stored bundle differs"
        client.start()
        info = wait_finished(client)
        started = time.monotonic()
        weights = client.download(m.WHAT_WEIGHTS)
        ckpt = client.download(m.WHAT_CHECKPOINT)
        pull_seconds = time.monotonic() - started
        assert checkpoint.decode(ckpt)[0]["seq"] == info["seq"], "checkpoint changed"
        check_weights(weights, bundle.view.model["params"], reference_npz)
        stats = client.link.stats
        client.close()
        return {"rate": rate, "flash_bytes": len(bundle.data), "flash_s": flash_seconds,
                "pull_bytes": len(weights) + len(ckpt), "pull_s": pull_seconds,
                "hits": sum(line.hits.values()), "resent": stats["resent"]}
    finally:
        line.close()
        sim.stop()


def wait_finished(client):
    """Polls the board's checkpoint (events may be lost on the line) until the run ends."""
    deadline = time.monotonic() + TRAIN_SECONDS
    while time.monotonic() < deadline:
        client.pump(0.2)
        info, _ = checkpoint.decode(client.download(m.WHAT_CHECKPOINT))
        if info["state"] != m.STATE_RUNNING:
            assert info["state"] == m.STATE_FINISHED and info["iteration"] == info["target_iterations"]
            return info
    raise AssertionError("training did not finish within %d s" % TRAIN_SECONDS)


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
    return "| %.1f %% | %.2f | %.2f | %d | %d | yes |" % (
        figures["rate"] * 100, figures["flash_bytes"] / kib / figures["flash_s"],
        figures["pull_bytes"] / kib / figures["pull_s"], figures["hits"], figures["resent"])


HEADER = ("| damaged bytes | flash KiB/s | pull KiB/s | bytes hit | host resends | verified |\n"
          "|---|---|---|---|---|---|")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.001,0.01,0.02,0.05")
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="microtrain-noisy-") as name:
        workdir = Path(name)
        bundle, reference = prepare(workdir, args.samples, args.seed)
        print("bundle %d bytes, %d samples" % (bundle.stat().st_size, args.samples))
        print(HEADER)
        for index, rate in enumerate(float(r) for r in args.rates.split(",")):
            figures = noisy_session(bundle, reference, rate, args.seed + index,
                                    workdir / ("board%d" % index))
            print(row(figures), flush=True)


if __name__ == "__main__":
    main()
