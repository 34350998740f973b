"""Recomputes a (possibly damaged) bundle's header and section CRCs where its
lengths allow. Random mutations almost never carry a matching CRC, so
without this the fuzzers would only ever test the CRC check."""
import struct
import zlib

HEADER, SECTION_HEAD = 20, 12


def repair_crcs(data: bytes) -> bytes:
    out = bytearray(data)
    if len(out) < HEADER:
        return bytes(out)
    struct.pack_into("<I", out, 16, zlib.crc32(bytes(out[:16])))
    pos = HEADER
    while pos + SECTION_HEAD <= len(out):
        length = struct.unpack_from("<I", out, pos + 4)[0]
        end = pos + SECTION_HEAD + ((length + 3) & ~3)
        if end > len(out):
            break
        crc = zlib.crc32(bytes(out[pos + SECTION_HEAD:end]), zlib.crc32(bytes(out[pos:pos + 8])))
        struct.pack_into("<I", out, pos + 8, crc)
        pos = end
    return bytes(out)
