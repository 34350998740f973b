"""Host side of bulk transfers: upload(), download() over a Link.

upload() asks the board what it already holds (UPLOAD_BEGIN -> UPLOAD_STATUS)
and sends only the rest, so calling it again after a broken link resumes.
Chunks go out as plain link messages (no per-chunk reply: the link ACK
already means "delivered in order"), and UPLOAD_END returns the verdict.

Both directions adapt their block size to the line (ChunkSizer): upload
chunks and the DATA blocks a download asks for are as large as a frame allows
on a clean line; on a noisy one, where long frames rarely arrive intact, they
shrink to the size with the best expected goodput. A block the link could not
deliver on a noisy line (LinkError.noisy) is asked for again, smallest size
first; a silent peer ends the transfer at once.
"""

import math

from . import messages as m
from .crc32 import crc32
from .link import LinkError

MIN_CHUNK = 16           # best goodput at 5 % damaged bytes is ~20-byte blocks
NOISY_RETRIES = 8        # a block's deliveries that may fail on a noisy line
FRAME_COST = 30          # bytes besides the data: chunk frame overhead + its ACK
MEMORY = 0.8             # weight of the past in the failure rate, per chunk
FIRST_CHUNK = 128        # clean line: grows to the maximum after one clean send


class UploadRejected(Exception):
    def __init__(self, result):
        Exception.__init__(self, "upload rejected: %s (board holds %d bytes, crc 0x%08x)" % (
            m.REJECT_REASONS.get(result["reason"], result["reason"]), result["held"], result["crc32"]))
        self.result = result


class ChunkSizer:
    """Chooses the chunk size from the observed share of failed sends.

    With a byte error rate e, a c-byte chunk arrives intact with probability
    (1-e)^(c+FRAME_COST); one chunk per round trip then moves
    c*(1-e)^(c+FRAME_COST) bytes, which peaks at c = -1/ln(1-e). We infer e
    from the running failure rate f at the current size s:
    (1-e)^(s+FRAME_COST) = 1-f.
    """

    def __init__(self, largest=m.MAX_CHUNK, smallest=MIN_CHUNK, first=FIRST_CHUNK):
        self.largest = largest
        self.smallest = smallest
        # Not the maximum at first: on a very noisy line a 236-byte frame may
        # need dozens of sends, and the size only adapts between chunks.
        self.size = min(first, largest)
        self.failure_rate = 0.0
        self._failed_sends = 0.0   # decayed counts, so the rate does not
        self._all_sends = 0.0      # depend on the order within a chunk

    def update(self, attempts):
        """Record that the last chunk needed `attempts` sends; resize."""
        self._failed_sends = self._failed_sends * MEMORY + attempts - 1
        self._all_sends = self._all_sends * MEMORY + attempts
        self.failure_rate = self._failed_sends / self._all_sends
        self.size = self._best_size()

    def failed(self, max_attempts):
        """The link gave up on the last block (max_attempts sends): go small."""
        self.update(max_attempts)

    def _best_size(self):
        survival = 1.0 - min(self.failure_rate, 0.99)
        if survival >= 0.999:
            return self.largest
        log_byte_survival = math.log(survival) / (self.size + FRAME_COST)
        best = int(-1.0 / log_byte_survival)
        return max(self.smallest, min(self.largest, best))


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
        def send(size, offset=offset):
            piece = data[offset:min(end, offset + size)]
            link.send(m.UPLOAD_CHUNK, m.encode(m.UPLOAD_CHUNK, offset=offset, data=piece))
            return len(piece)
        offset += _adaptively(link, sizer, send)
        if on_progress is not None:
            on_progress(offset, len(data))


def _adaptively(link, sizer, attempt):
    """attempt(block size) -> its result, the sizer fed with the failures it met."""
    for tries in range(1, NOISY_RETRIES + 1):
        trouble = _trouble(link)
        try:
            result = attempt(sizer.size)
        except LinkError as error:
            if not error.noisy or tries == NOISY_RETRIES:
                raise
            sizer.failed(link.max_attempts)
            continue
        sizer.update(1 + _trouble(link) - trouble)
        return result


def _trouble(link):
    """Sends that failed so far: our resends plus the damaged frames we received."""
    return link.stats["resent"] + link.stats["damaged"]


def download(link, what, on_progress=None):
    """Fetch a whole blob (weights, checkpoint) -> bytes, CRC-checked."""
    out = bytearray()
    sizer = ChunkSizer(largest=m.MAX_DATA)

    def fetch(size):
        return m.expect(link.request(m.DOWNLOAD, m.encode(
            m.DOWNLOAD, what=what, offset=len(out), max_length=size)), m.DATA)
    while True:
        reply = _adaptively(link, sizer, fetch)
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
