"""Drives a board engine through what the agent does with it; runs under CPython
(engine board.trainer) and under MicroPython (board.mp_engine) alike, so
tests/test_micropython_engine.py can compare the two outputs exactly.

    <python> micropython_engine_driver.py ENGINE JOB.json

JOB: {"mode": "train" | "load", "bundle": path, "flash": path, "samples": path or null,
      "epochs": E, "chunks": [iterations per train() call, cycled], "resume_after": epoch}
Prints one JSON object: per-chunk sums as hex of two little-endian doubles, held-out
accuracy per epoch, swap byte counts, the weights blob (hex) and a SHA-256 of every
persistent tensor; or, when loading fails, the exception's type and message.
Imports only what MicroPython has (no numpy here).
"""

import binascii
import hashlib
import json
import struct
import sys


def load_engine(name):
    module = __import__(name)
    for part in name.split(".")[1:]:
        module = getattr(module, part)
    return module


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def hex_of(data):
    return binascii.hexlify(data).decode()


VIEW_NUMBERS = ("major", "minor", "n_ops", "n_tensors", "arena_bytes", "input", "labels", "metrics",
                "output", "batch", "x_numel", "label_kind", "y_bytes", "flash_bytes", "kernel_abi",
                "micro_batches", "iteration_samples")


def digest(data):
    """SHA-256 (hex) of a buffer: numpy arrays (CPython view) or bytes / memoryviews."""
    if data is None:
        return None
    raw = data.tobytes() if hasattr(data, "tobytes") else bytes(data)
    return hex_of(hashlib.sha256(raw).digest())


def view_summary(view):
    """Every field of the bundle view, buffers by digest."""
    settings = view.train
    return {"numbers": [getattr(view, name) for name in VIEW_NUMBERS],
            "train": [settings.epochs, settings.iterations, settings.checkpoint_interval,
                      settings.shuffle_seed, settings.flags],
            "init": [[r.tensor, r.where, r.offset, digest(r.data)] for r in view.init],
            "records": [digest(view.ops), digest(view.tensors), digest(view.swap_events)],
            "data": [None if d is None else [digest(d.x), digest(d.y)]
                     for d in (view.dataset, view.test_dataset)],
            "model": view.model, "names": view.names}


def use_data(trainer, samples_path):
    if samples_path is None:
        return trainer.use_bundle_data()
    from board.samples import decode_samples
    n, _, _, x, y = decode_samples(read(samples_path))
    trainer.use_samples(n, x, y)
    return n


def checkpoint_round_trip(trainer):
    """What a resume does: every persistent tensor read, INIT values back, tensors written."""
    saved = [(tid, trainer.read_tensor(tid)) for tid in trainer.persistent_ids]
    trainer.reset()
    for tid, data in saved:
        trainer.write_tensor(tid, data)


def train(engine, job, trainer):
    from board.order import epoch_order
    view = trainer.view
    n = use_data(trainer, job.get("samples"))
    per_epoch = view.train.iterations or n // view.batch
    shuffle = bool(view.train.flags & engine.TRAIN_SHUFFLE)
    sums, accuracies, chunks = [], [], job["chunks"]
    for epoch in range(job["epochs"]):
        order = epoch_order(n, view.train.shuffle_seed, epoch, shuffle)
        done = 0
        while done < per_epoch:
            count = min(chunks[len(sums) % len(chunks)], per_epoch - done)
            loss, correct = trainer.train(order, done, count)
            sums.append(hex_of(struct.pack("<dd", loss, correct)))
            done += count
        accuracy = trainer.test_accuracy()  # floats as hex: no repr differences between ports
        accuracies.append(None if accuracy is None else hex_of(struct.pack("<d", accuracy)))
        if epoch == job.get("resume_after"):
            checkpoint_round_trip(trainer)
    state = hashlib.sha256()
    for tid in trainer.persistent_ids:
        state.update(trainer.read_tensor(tid))
    read_bytes, written_bytes = trainer.swap_bytes()
    return {"sums": sums, "accuracies": accuracies, "swaps": trainer.swaps,
            "swap_bytes": [read_bytes, written_bytes], "weights": hex_of(trainer.weights_blob()),
            "state": hex_of(state.digest()), "persistent_ids": list(trainer.persistent_ids)}


def main(engine_name, job_path):
    engine = load_engine(engine_name)
    job = json.loads(read(job_path))
    try:
        view = engine.inspect_bundle(read(job["bundle"]))
        trainer = engine.Trainer(view, job["flash"])
    except Exception as error:
        print(json.dumps({"error": type(error).__name__, "message": str(error),
                          "is_value_error": isinstance(error, ValueError),
                          "is_bundle_error": isinstance(error, engine.BundleError)}))
        return
    try:
        result = {"loaded": True, "arena_bytes": view.arena_bytes, "view": view_summary(view)}
        if job["mode"] == "train":
            try:
                result.update(train(engine, job, trainer))
            except RuntimeError as error:  # the core's status, e.g. a label out of range
                result["train_error"] = str(error)
        print(json.dumps(result))
    finally:
        trainer.close()


main(sys.argv[1], sys.argv[2])
