"""Board side of DOWNLOAD: serve slices of a blob (weights, checkpoint).

`blobs` maps a DOWNLOAD `what` code to a bytes-like object (or any object
with len() and slicing, e.g. a memoryview over a flash-mapped region). Each
DATA reply carries the total size and the blob's CRC-32, so the host knows
when it is done and can check what it assembled.
"""

from . import messages as m
from .crc32 import crc32


class DownloadService:
    def __init__(self, blobs=None):
        self.blobs = blobs if blobs is not None else {}
        self._crc_cache = {}     # what -> (blob, crc): hash each blob once

    def handle(self, link, message):
        if message.msg_type != m.DOWNLOAD:
            return False
        try:
            fields = m.decode(m.DOWNLOAD, message.payload)
        except ValueError as error:
            link.reply(message, m.ERROR, m.error_payload(m.ERR_BAD_PAYLOAD, str(error)))
            return True
        blob = self.blobs.get(fields["what"])
        if blob is None:
            link.reply(message, m.ERROR, m.error_payload(m.ERR_NOT_FOUND, "nothing to download for %d" % fields["what"]))
            return True
        offset = min(fields["offset"], len(blob))
        length = min(fields["max_length"] or m.MAX_DATA, m.MAX_DATA)
        link.reply(message, m.DATA, m.encode(
            m.DATA, what=fields["what"], total_size=len(blob), crc32=self._crc_of(fields["what"], blob),
            offset=offset, data=bytes(blob[offset:offset + length])))
        return True

    def _crc_of(self, what, blob):
        cached = self._crc_cache.get(what)
        if cached is None or cached[0] is not blob:
            cached = (blob, crc32(blob))
            self._crc_cache[what] = cached
        return cached[1]
