"""Frames: the unit the link layer sends, checks and acknowledges.

Before COBS a frame is
    type u8 | flags u8 | seq u16 LE | length u16 LE | payload | crc32 u32 LE
where the CRC covers header and payload. On the wire it is
    0x00 | COBS(frame) | 0x00
The leading 0x00 cuts off line noise that arrived before the frame, so noise
costs at most the garbage itself, never the next good frame.
"""

import struct

from . import cobs
from .crc32 import crc32

HEADER = "<BBHH"
HEADER_SIZE = 6
CRC_SIZE = 4
MAX_PAYLOAD = 240  # 6 + 240 + 4 = 250 bytes -> 253 on the wire: fits a 256-byte FIFO
MAX_ENCODED = cobs.max_encoded_length(HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE)
DELIMITER = b"\x00"


class Frame:
    __slots__ = ("frame_type", "flags", "seq", "payload")

    def __init__(self, frame_type, flags, seq, payload=b""):
        self.frame_type = frame_type
        self.flags = flags
        self.seq = seq
        self.payload = payload

    def __repr__(self):
        return "Frame(type=0x%02x, flags=0x%02x, seq=%d, %d bytes)" % (
            self.frame_type, self.flags, self.seq, len(self.payload))


def encode_frame(frame_type, flags, seq, payload=b""):
    """Bytes ready for transport.write(), delimiters included."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("frame payload %d > %d bytes" % (len(payload), MAX_PAYLOAD))
    body = struct.pack(HEADER, frame_type, flags, seq & 0xFFFF, len(payload)) + bytes(payload)
    body += struct.pack("<I", crc32(body))
    return DELIMITER + cobs.encode(body) + DELIMITER


def parse_frame(encoded):
    """COBS bytes between two delimiters -> Frame, or None if damaged."""
    try:
        body = cobs.decode(encoded)
    except ValueError:
        return None
    if len(body) < HEADER_SIZE + CRC_SIZE:
        return None
    content = body[:-CRC_SIZE]
    (sent_crc,) = struct.unpack("<I", body[-CRC_SIZE:])
    if crc32(content) != sent_crc:
        return None
    frame_type, flags, seq, length = struct.unpack(HEADER, content[:HEADER_SIZE])
    if length != len(content) - HEADER_SIZE:
        return None
    return Frame(frame_type, flags, seq, content[HEADER_SIZE:])


class FrameDecoder:
    """Turns a byte stream into frames, resynchronising on every 0x00.

    feed() returns a list with one entry per delimited chunk: a Frame, or
    None for a damaged one (bad COBS, bad CRC, too long) so the link can NAK.
    Empty chunks (back-to-back delimiters) are silently skipped.
    """

    def __init__(self):
        self._pending = bytearray()
        self._overflowed = False
        self.damaged = 0

    def feed(self, data):
        results = []
        start = 0
        while True:
            end = data.find(DELIMITER, start)
            if end < 0:
                self._buffer(data[start:])
                return results
            self._buffer(data[start:end])
            result = self._finish_chunk()
            if result is not False:
                results.append(result)
            start = end + 1

    @property
    def in_frame(self):
        """True while bytes of an unterminated frame are buffered."""
        return bool(self._pending) or self._overflowed

    def drop_partial(self):
        """Give up on a frame whose end never came (its delimiter was lost)."""
        if self.in_frame:
            self._pending = bytearray()
            self._overflowed = False
            self.damaged += 1

    def _buffer(self, data):
        if self._overflowed:
            return
        if len(self._pending) + len(data) > MAX_ENCODED:
            # Too long to be a frame: drop it all until the next delimiter.
            self._overflowed = True
            self._pending = bytearray()
            return
        self._pending += data

    def _finish_chunk(self):
        """Frame, None (damaged) or False (nothing between delimiters)."""
        chunk = bytes(self._pending)
        overflowed = self._overflowed
        self._pending = bytearray()
        self._overflowed = False
        if not chunk and not overflowed:
            return False
        frame = None if overflowed else parse_frame(chunk)
        if frame is None:
            self.damaged += 1
        return frame
