"""How often the board resumed its newest checkpoint: DIR/resumes.bin.

A run that stopped abnormally (power cut, crash) is resumed at boot from its
newest checkpoint. If the run itself kills the board, every boot would resume
it and die again; so before each resume the board records, next to the
checkpoint, which checkpoint (bundle CRC, sequence number) it resumes and how
many times it has. A new checkpoint (the run made progress) has a new
sequence number and starts from zero. Layout, little-endian:

    "MTRS" | u32 bundle_crc | u32 checkpoint seq | u32 resumes | u32 CRC-32 of the 16 bytes before
"""

import struct

from protocol.crc32 import crc32

NAME = "resumes.bin"
MAGIC = b"MTRS"
LAYOUT = "<4sIII"
BODY_BYTES = struct.calcsize(LAYOUT)


class ResumeCounter:
    def __init__(self, storage):
        self.storage = storage

    def count(self, bundle_crc, seq):
        """Resumes recorded for that checkpoint (0 if none or the file is damaged)."""
        blob = self.storage.read(NAME)
        if blob is None or len(blob) != BODY_BYTES + 4:
            return 0
        if struct.unpack_from("<I", blob, BODY_BYTES)[0] != crc32(blob[:BODY_BYTES]):
            return 0
        magic, stored_crc, stored_seq, resumes = struct.unpack_from(LAYOUT, blob, 0)
        if magic != MAGIC or (stored_crc, stored_seq) != (bundle_crc, seq):
            return 0
        return resumes

    def record(self, bundle_crc, seq, resumes):
        body = struct.pack(LAYOUT, MAGIC, bundle_crc, seq, resumes)
        self.storage.write_atomic(NAME, body + struct.pack("<I", crc32(body)))
