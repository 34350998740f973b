"""Board side of UPLOAD_BEGIN / UPLOAD_CHUNK / UPLOAD_END, with resume.

The board keeps one upload at a time, identified by (kind, total_size, crc32).
UPLOAD_BEGIN with the same identity as the upload in progress answers how
many bytes are already held, so a host that lost the link continues from
there; any other identity starts over. Chunks must arrive in order (the link
guarantees that); a chunk that repeats already-held bytes is ignored, a gap
poisons the upload so UPLOAD_END rejects it. UPLOAD_END checks size and CRC.

Storage is pluggable: any object with begin(kind, total_size),
write(data) and finish(kind, accepted). MemoryStorage keeps blobs in RAM
(tests, host simulation); a flash- or file-backed one has the same methods.
"""

from . import messages as m
from .crc32 import crc32


class MemoryStorage:
    def __init__(self):
        self.blobs = {}          # kind -> bytes of the last accepted upload
        self._buffer = bytearray()

    def begin(self, kind, total_size):
        self._buffer = bytearray()

    def write(self, data):
        self._buffer += data

    def finish(self, kind, accepted):
        if accepted:
            self.blobs[kind] = bytes(self._buffer)
        self._buffer = bytearray()


class UploadService:
    def __init__(self, storage=None):
        self.storage = storage if storage is not None else MemoryStorage()
        self._identity = None    # (kind, total_size, crc32) in progress
        self._held = 0
        self._crc = 0
        self._gap = False

    def handle(self, link, message):
        """Serve message if it is an UPLOAD_* one; returns True if it was."""
        handler = {m.UPLOAD_BEGIN: self._begin, m.UPLOAD_CHUNK: self._chunk,
                   m.UPLOAD_END: self._end}.get(message.msg_type)
        if handler is None:
            return False
        try:
            fields = m.decode(message.msg_type, message.payload)
        except ValueError as error:
            if message.is_request:
                link.reply(message, m.ERROR, m.error_payload(m.ERR_BAD_PAYLOAD, str(error)))
            return True
        handler(link, message, fields)
        return True

    def _begin(self, link, message, fields):
        identity = (fields["kind"], fields["total_size"], fields["crc32"])
        if identity != self._identity or self._gap:
            self._identity = identity
            self._held = 0
            self._crc = 0
            self._gap = False
            self.storage.begin(fields["kind"], fields["total_size"])
        link.reply(message, m.UPLOAD_STATUS,
                   m.encode(m.UPLOAD_STATUS, kind=fields["kind"], crc32=fields["crc32"], held=self._held))

    def _chunk(self, link, message, fields):
        offset, data = fields["offset"], fields["data"]
        if self._identity is None or offset > self._held:
            self._gap = True
            return
        fresh = data[self._held - offset:]
        if self._held + len(fresh) > self._identity[1]:
            self._gap = True
            return
        if fresh:
            self.storage.write(fresh)
            self._crc = crc32(fresh, self._crc)
            self._held += len(fresh)

    def _end(self, link, message, fields):
        reason = self._verdict(fields["kind"])
        held, crc = self._held, self._crc
        if self._identity is not None:
            self.storage.finish(fields["kind"], reason == m.UPLOAD_ACCEPTED)
        if reason != m.REJECT_NO_UPLOAD:
            self._identity = None  # accepted or rejected: the next BEGIN starts afresh
        link.reply(message, m.UPLOAD_RESULT,
                   m.encode(m.UPLOAD_RESULT, kind=fields["kind"], reason=reason, held=held, crc32=crc))

    def _verdict(self, kind):
        if self._identity is None or self._identity[0] != kind:
            return m.REJECT_NO_UPLOAD
        if self._gap or self._held != self._identity[1]:
            return m.REJECT_SIZE
        if self._crc != self._identity[2]:
            return m.REJECT_CRC
        return m.UPLOAD_ACCEPTED
