"""Host side of bulk transfers: upload(), download() over a Link.

upload() asks the board what it already holds (UPLOAD_BEGIN -> UPLOAD_STATUS)
and sends only the rest, so calling it again after a broken link resumes.
Chunks go out as plain link messages (no per-chunk reply: the link ACK
already means "delivered in order"), and UPLOAD_END returns the verdict.

Chunk size adapts to the line: a frame that needed a resend halves it (short
frames survive a noisy line far better: at 1% byte errors a 253-byte frame
gets through 8% of the time, a 60-byte one 55%), and a run of clean frames
grows it back to the maximum.
"""

from . import messages as m
from .crc32 import crc32

MIN_CHUNK = 32
CLEAN_RUN_TO_GROW = 16


class UploadRejected(Exception):
    def __init__(self, result):
        Exception.__init__(self, "upload rejected: %s (board holds %d bytes, crc 0x%08x)" % (
            m.REJECT_REASONS.get(result["reason"], result["reason"]), result["held"], result["crc32"]))
        self.result = result


class ChunkSizer:
    """Additive-increase / multiplicative-decrease chunk size."""

    def __init__(self, largest=m.MAX_CHUNK, smallest=MIN_CHUNK):
        self.largest = largest
        self.smallest = smallest
        self.size = largest
        self._clean_run = 0

    def update(self, attempts):
        if attempts > 1:
            self.size = max(self.smallest, self.size // 2)
            self._clean_run = 0
            return
        self._clean_run += 1
        if self._clean_run >= CLEAN_RUN_TO_GROW:
            self.size = min(self.largest, self.size + self.smallest)
            self._clean_run = 0


def upload(link, kind, data, declared_crc=None, on_progress=None, stop_at=None):
    """Send `data` as an upload of `kind`; returns the UPLOAD_RESULT dict.

    declared_crc overrides the CRC announced to the board (to test rejection);
    stop_at stops after that many bytes without UPLOAD_END (to test resume).
    The result dict gains "resumed_from": bytes the board already held.
    Raises UploadRejected if the board refuses the data, LinkError if it is gone.
    """
    data = memoryview(bytes(data))
    crc = crc32(data) if declared_crc is None else declared_crc
    status = m.expect(link.request(m.UPLOAD_BEGIN, m.encode(
        m.UPLOAD_BEGIN, kind=kind, total_size=len(data), crc32=crc)), m.UPLOAD_STATUS)
    resumed_from = min(status["held"], len(data))
    end = len(data) if stop_at is None else min(stop_at, len(data))
    _send_chunks(link, data, resumed_from, end, on_progress)
    if stop_at is not None:
        return {"held": end, "resumed_from": resumed_from}
    result = m.expect(link.request(m.UPLOAD_END, m.encode(m.UPLOAD_END, kind=kind)), m.UPLOAD_RESULT)
    result["resumed_from"] = resumed_from
    if result["reason"] != m.UPLOAD_ACCEPTED:
        raise UploadRejected(result)
    return result


def _send_chunks(link, data, offset, end, on_progress):
    sizer = ChunkSizer()
    while offset < end:
        piece = data[offset:min(end, offset + sizer.size)]
        link.send(m.UPLOAD_CHUNK, m.encode(m.UPLOAD_CHUNK, offset=offset, data=piece))
        sizer.update(link.last_attempts)
        offset += len(piece)
        if on_progress is not None:
            on_progress(offset, len(data))


def download(link, what, on_progress=None):
    """Fetch a whole blob (weights, checkpoint) -> bytes, CRC-checked."""
    out = bytearray()
    while True:
        reply = m.expect(link.request(m.DOWNLOAD, m.encode(
            m.DOWNLOAD, what=what, offset=len(out), max_length=m.MAX_DATA)), m.DATA)
        if reply["offset"] != len(out):
            raise m.RemoteError(m.ERR_BAD_PAYLOAD, "DATA at offset %d, asked %d" % (reply["offset"], len(out)))
        out += reply["data"]
        if on_progress is not None:
            on_progress(len(out), reply["total_size"])
        if len(out) >= reply["total_size"] or not reply["data"]:
            break
    if len(out) != reply["total_size"] or crc32(out) != reply["crc32"]:
        raise m.RemoteError(m.ERR_BAD_PAYLOAD, "downloaded blob fails size/CRC check")
    return bytes(out)
