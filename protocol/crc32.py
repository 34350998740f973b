"""CRC-32 (IEEE 802.3, the zlib/binascii one): reflected poly 0xEDB88320.

We use binascii.crc32 when the port has it (CPython, most MicroPython ports)
because it is C speed; otherwise a 256-entry table computed once (1 KB as a
list of ints) gives the same numbers. Check value: crc32(b"123456789") ==
0xCBF43926. `crc` is the running value, so large blobs can be hashed in pieces.
"""

try:
    from binascii import crc32 as _native_crc32
except ImportError:
    _native_crc32 = None

_POLY = 0xEDB88320
_table = None


def _build_table():
    table = []
    for index in range(256):
        value = index
        for _ in range(8):
            value = (value >> 1) ^ _POLY if value & 1 else value >> 1
        table.append(value)
    return table


def table_crc32(data, crc=0):
    """Pure-Python CRC-32, same result as binascii.crc32."""
    global _table
    if _table is None:
        _table = _build_table()
    table = _table
    value = crc ^ 0xFFFFFFFF
    for byte in data:
        value = table[(value ^ byte) & 0xFF] ^ (value >> 8)
    return value ^ 0xFFFFFFFF


def crc32(data, crc=0):
    if _native_crc32 is not None:
        return _native_crc32(data, crc) & 0xFFFFFFFF
    return table_crc32(data, crc)
