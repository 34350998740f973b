"""Training checkpoints in two slots, DIR/ckpt_a.bin and DIR/ckpt_b.bin.

A checkpoint is the bytes of every persistent tensor plus where the run
stands. Writes go to the older (or invalid) slot, through a temp file and a
rename, so a power cut at any moment leaves at least one valid slot; the
newest valid one (highest sequence number) wins at boot. Layout, little-endian:

    header (52 bytes): "MTCK" | u32 version | u32 seq | u32 bundle_crc | u32 data_crc
        | u32 iteration (global, done) | u32 epoch (epochs done) | u32 target_epochs
        | u32 target_iterations (total) | u32 per_epoch | u32 checkpoint_every
        | u32 state (PROGRESS state: 0 running, 1 finished, 2 stopped) | u32 n_tensors
    n_tensors records: u32 tensor id | u32 nbytes | bytes, zero-padded to 4
    u32 CRC-32 of everything before it
"""

import struct

from protocol.crc32 import crc32

MAGIC = b"MTCK"
VERSION = 1
HEADER = "<4sIIIIIIIIIIII"
HEADER_BYTES = struct.calcsize(HEADER)
FIELDS = ("seq", "bundle_crc", "data_crc", "iteration", "epoch", "target_epochs",
          "target_iterations", "per_epoch", "checkpoint_every", "state")
SLOTS = ("ckpt_a.bin", "ckpt_b.bin")


def encode(info, tensors):
    """info: dict with FIELDS; tensors: list of (tensor id, bytes) -> checkpoint bytes."""
    out = bytearray(struct.pack(HEADER, MAGIC, VERSION, *([info[f] for f in FIELDS] + [len(tensors)])))
    for tid, data in tensors:
        out += struct.pack("<II", tid, len(data))
        out += data
        out += bytes(-len(data) % 4)
    out += struct.pack("<I", crc32(out))
    return bytes(out)


def decode(blob):
    """-> (info dict, [(tensor id, bytes)]) or None if the blob is not a valid checkpoint."""
    if blob is None or len(blob) < HEADER_BYTES + 4:
        return None
    body = memoryview(blob)[:-4]
    if struct.unpack_from("<I", blob, len(blob) - 4)[0] != crc32(body):
        return None
    words = struct.unpack_from(HEADER, blob, 0)
    if words[0] != MAGIC or words[1] != VERSION:
        return None
    info = dict(zip(FIELDS, words[2:-1]))
    tensors = _records(body, words[-1])
    return None if tensors is None else (info, tensors)


def _records(body, count):
    tensors, offset = [], HEADER_BYTES
    for _ in range(count):
        if offset + 8 > len(body):
            return None
        tid, nbytes = struct.unpack_from("<II", body, offset)
        offset += 8
        if offset + nbytes > len(body):
            return None
        tensors.append((tid, bytes(body[offset:offset + nbytes])))
        offset += nbytes + (-nbytes % 4)
    return tensors if offset == len(body) else None


class Slots:
    """The two checkpoint files of a storage directory (board/storage.py)."""

    def __init__(self, storage):
        self.storage = storage
        self.seqs = [self._seq_of(name) for name in SLOTS]   # None = missing/invalid

    def _seq_of(self, name):
        decoded = decode(self.storage.read(name))
        return None if decoded is None else decoded[0]["seq"]

    def newest(self, bundle_crc):
        """(info, tensors, raw bytes) of the newest valid checkpoint of that bundle, or None."""
        ranked = sorted((seq, i) for i, seq in enumerate(self.seqs) if seq is not None)
        for _, index in reversed(ranked):
            raw = self.storage.read(SLOTS[index])
            decoded = decode(raw)
            if decoded is not None and decoded[0]["bundle_crc"] == bundle_crc:
                return decoded[0], decoded[1], raw
        return None

    def write(self, info, tensors):
        """Store a checkpoint in the older or invalid slot; returns its sequence number."""
        index = self._victim()
        known = [seq for seq in self.seqs if seq is not None]
        info = dict(info, seq=(max(known) + 1) if known else 1)
        self.seqs[index] = None   # until the rename is durable, trust the other slot only
        self.storage.write_atomic(SLOTS[index], encode(info, tensors))
        self.seqs[index] = info["seq"]
        return info["seq"]

    def _victim(self):
        for index, seq in enumerate(self.seqs):
            if seq is None:
                return index
        return 0 if self.seqs[0] < self.seqs[1] else 1
