"""Consistent Overhead Byte Stuffing: removes every 0x00 from a frame so 0x00
can delimit frames on the wire. Overhead: 1 byte per 254 bytes (min 1).

Each block is a code byte N followed by N-1 non-zero bytes; a code below 0xFF
means "a zero followed" (except after the last block). Slicing with find()
instead of a per-byte loop keeps this fast on CPython and MicroPython alike.
"""

_MAX_RUN = 254  # non-zero bytes a single block can carry (code 0xFF)


def encode(data):
    data = bytes(data)
    out = bytearray()
    start = 0
    length = len(data)
    while True:
        zero = data.find(b"\x00", start)
        end = length if zero < 0 else zero
        while end - start >= _MAX_RUN:
            out.append(0xFF)
            out += data[start:start + _MAX_RUN]
            start += _MAX_RUN
        out.append(end - start + 1)
        out += data[start:end]
        if zero < 0:
            return bytes(out)
        start = zero + 1


def decode(encoded):
    """Inverse of encode(); raises ValueError on input encode() can't produce.

    Walks the code bytes in place (one cheap step per block: float data is mostly
    zeros, so blocks are many and short) and turns each into the zero it stands
    for; the first code byte, and one after a full 0xFF block, stand for nothing."""
    if 0 in encoded:
        raise ValueError("cobs: zero byte inside frame")
    out = bytearray(encoded)
    length = len(out)
    index, cut, full = 0, [0], False
    while index < length:
        code = out[index]
        if index + code > length:
            raise ValueError("cobs: block runs past end of frame")
        if index and full:
            cut.append(index)
        elif index:
            out[index] = 0
        full = code == 0xFF
        index += code
    if len(cut) == 1:
        return bytes(out[1:])
    pieces = [out[start + 1:end] for start, end in zip(cut, cut[1:] + [length])]
    return b"".join(pieces)


def max_encoded_length(length):
    return length + length // _MAX_RUN + 1
