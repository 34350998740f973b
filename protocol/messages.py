"""Application messages: type codes and their payload layouts.

Every message fits one frame (<= MAX_PAYLOAD bytes). A layout is a tuple of
(field name, kind); kind is a struct code (little-endian) or one of
    "str"   u8 length + UTF-8 (at most 255 bytes)
    "text"  UTF-8 up to the end of the payload
    "bytes" raw bytes up to the end of the payload
encode(msg_type, **fields) -> payload and decode(msg_type, payload) -> dict
are table driven, so adding a message is adding a layout line.
"""

import struct

from .frame import MAX_PAYLOAD

PROTOCOL_VERSION = 1

# Link control frames (ACK/NAK) use types below 0x10; see link.py.
HELLO = 0x10          # host -> board, reply INFO
INFO = 0x11
OK = 0x12             # generic success reply
ERROR = 0x13          # generic failure reply
RESET = 0x14          # host -> board, reply OK, then the board restarts
UPLOAD_BEGIN = 0x20   # reply UPLOAD_STATUS (bytes already held: resume point)
UPLOAD_STATUS = 0x21
UPLOAD_CHUNK = 0x22   # no reply: the link ACK is the flow control
UPLOAD_END = 0x23     # reply UPLOAD_RESULT
UPLOAD_RESULT = 0x24
TRAIN_START = 0x30    # reply OK or ERROR
TRAIN_STOP = 0x31     # reply OK
PROGRESS = 0x40       # board -> host event
LOG = 0x41            # board -> host event
DOWNLOAD = 0x50       # reply DATA (or ERROR)
DATA = 0x51

KIND_BUNDLE = 1       # UPLOAD kinds
KIND_SAMPLES = 2
WHAT_WEIGHTS = 1      # DOWNLOAD targets
WHAT_CHECKPOINT = 2

UPLOAD_ACCEPTED = 0   # UPLOAD_RESULT.reason
REJECT_CRC = 1
REJECT_SIZE = 2
REJECT_NO_UPLOAD = 3
REJECT_STORAGE = 4
REJECT_REASONS = {UPLOAD_ACCEPTED: "accepted", REJECT_CRC: "crc mismatch",
                  REJECT_SIZE: "size mismatch", REJECT_NO_UPLOAD: "no upload in progress",
                  REJECT_STORAGE: "storage error"}

ERR_UNKNOWN_MESSAGE = 1  # ERROR.code
ERR_BAD_PAYLOAD = 2
ERR_BAD_STATE = 3
ERR_NOT_FOUND = 4
ERR_STORAGE = 5
ERR_INTERNAL = 6

STATE_RUNNING = 0     # PROGRESS.state
STATE_FINISHED = 1
STATE_STOPPED = 2
STATE_FAILED = 3

LOG_DEBUG = 10        # LOG.level, same numbers as Python logging
LOG_INFO = 20
LOG_WARNING = 30
LOG_ERROR = 40

LAYOUTS = {
    HELLO: (("protocol_version", "H"),),
    INFO: (("protocol_version", "H"), ("ram_bytes", "I"), ("flash_bytes", "I"),
           ("device_name", "str"), ("kernel_version", "str")),
    OK: (),
    ERROR: (("code", "H"), ("text", "text")),
    RESET: (),
    UPLOAD_BEGIN: (("kind", "B"), ("total_size", "I"), ("crc32", "I")),
    UPLOAD_STATUS: (("kind", "B"), ("crc32", "I"), ("held", "I")),
    UPLOAD_CHUNK: (("offset", "I"), ("data", "bytes")),
    UPLOAD_END: (("kind", "B"),),
    UPLOAD_RESULT: (("kind", "B"), ("reason", "B"), ("held", "I"), ("crc32", "I")),
    TRAIN_START: (("epochs", "H"), ("iterations", "I"), ("checkpoint_every", "I")),
    TRAIN_STOP: (),
    PROGRESS: (("state", "B"), ("epoch", "H"), ("iteration", "I"), ("total_iterations", "I"),
               ("loss", "f"), ("accuracy", "f"), ("samples_per_s", "f"),
               ("arena_bytes", "I"), ("swap_read_bytes", "I"), ("swap_written_bytes", "I"),
               ("test_accuracy", "f?")),   # "?": optional, last; sent at epoch ends with test data
    LOG: (("level", "B"), ("text", "text")),
    DOWNLOAD: (("what", "B"), ("offset", "I"), ("max_length", "H")),
    DATA: (("what", "B"), ("total_size", "I"), ("crc32", "I"), ("offset", "I"),
           ("data", "bytes")),
}

NAMES = {HELLO: "HELLO", INFO: "INFO", OK: "OK", ERROR: "ERROR", RESET: "RESET",
         UPLOAD_BEGIN: "UPLOAD_BEGIN", UPLOAD_STATUS: "UPLOAD_STATUS",
         UPLOAD_CHUNK: "UPLOAD_CHUNK", UPLOAD_END: "UPLOAD_END", UPLOAD_RESULT: "UPLOAD_RESULT",
         TRAIN_START: "TRAIN_START", TRAIN_STOP: "TRAIN_STOP", PROGRESS: "PROGRESS", LOG: "LOG",
         DOWNLOAD: "DOWNLOAD", DATA: "DATA"}

OPTIONAL = "?"               # layout kind suffix: a trailing field a message may leave out
INFO_FIXED_BYTES = 12        # INFO without its two strings' bytes (but their length bytes)
UPLOAD_CHUNK_OVERHEAD = 4     # offset field in front of the data
DATA_OVERHEAD = 13            # what, total_size, crc32, offset
MAX_CHUNK = MAX_PAYLOAD - UPLOAD_CHUNK_OVERHEAD
MAX_DATA = MAX_PAYLOAD - DATA_OVERHEAD


class RemoteError(Exception):
    """The peer answered ERROR (or an unexpected message type)."""

    def __init__(self, code, text):
        Exception.__init__(self, "board error %d: %s" % (code, text))
        self.code = code
        self.text = text


def name_of(msg_type):
    return NAMES.get(msg_type, "0x%02x" % msg_type)


def encode(msg_type, **fields):
    out = bytearray()
    for name, kind in LAYOUTS[msg_type]:
        optional = kind.endswith(OPTIONAL)
        value = fields.get(name) if optional else fields[name]
        if optional and value is None:   # a trailing field left out
            break
        kind = kind.rstrip(OPTIONAL)
        if kind == "str":
            raw = value.encode("utf-8")[:255]
            out.append(len(raw))
            out += raw
        elif kind == "text":
            out += value.encode("utf-8")
        elif kind == "bytes":
            out += value
        else:
            out += struct.pack("<" + kind, value)
    if len(out) > MAX_PAYLOAD:
        raise ValueError("%s payload %d > %d bytes" % (name_of(msg_type), len(out), MAX_PAYLOAD))
    return bytes(out)


def decode(msg_type, payload):
    """payload -> dict of fields; ValueError if it does not match the layout."""
    layout = LAYOUTS.get(msg_type)
    if layout is None:
        raise ValueError("unknown message type %s" % name_of(msg_type))
    fields = {}
    offset = 0
    try:
        for name, kind in layout:
            offset = _decode_field(fields, name, kind, payload, offset)
    except (struct.error, IndexError, UnicodeError) as error:
        raise ValueError("bad %s payload: %s" % (name_of(msg_type), error))
    if offset != len(payload):
        raise ValueError("bad %s payload: %d trailing bytes" % (name_of(msg_type), len(payload) - offset))
    return fields


def _decode_field(fields, name, kind, payload, offset):
    if kind.endswith(OPTIONAL):
        if offset == len(payload):   # sent by a peer that leaves it out, or has no value
            fields[name] = None
            return offset
        kind = kind.rstrip(OPTIONAL)
    if kind == "str":
        length = payload[offset]
        raw = bytes(payload[offset + 1:offset + 1 + length])
        if len(raw) != length:
            raise IndexError("string runs past end")
        fields[name] = raw.decode("utf-8")
        return offset + 1 + length
    if kind == "text":
        fields[name] = bytes(payload[offset:]).decode("utf-8")
        return len(payload)
    if kind == "bytes":
        fields[name] = bytes(payload[offset:])
        return len(payload)
    fields[name] = struct.unpack_from("<" + kind, payload, offset)[0]
    return offset + struct.calcsize("<" + kind)


def expect(reply, expected_type):
    """(reply_type, payload) from Link.request -> decoded dict, or RemoteError."""
    reply_type, payload = reply
    if reply_type == ERROR:
        error = decode(ERROR, payload)
        raise RemoteError(error["code"], error["text"])
    if reply_type != expected_type:
        raise RemoteError(ERR_BAD_PAYLOAD, "expected %s, got %s" % (name_of(expected_type), name_of(reply_type)))
    return decode(expected_type, payload)


def error_payload(code, text):
    """ERROR payload with text cut to fit one frame."""
    return encode(ERROR, code=code, text=text.encode("utf-8")[:MAX_PAYLOAD - 2].decode("utf-8", "ignore"))

# ---- device agent additions (board/agent.py, docs/device.md) ----
REJECT_INVALID_BUNDLE = 5   # UPLOAD_RESULT.reason: CRC fine, but the C reader refuses the bundle
REJECT_TOO_BIG = 6          # the bundle's arena needs more RAM than the board has
REJECT_INVALID_SAMPLES = 7  # a samples blob that is not a well-formed MTSD blob
REJECT_REASONS[REJECT_INVALID_BUNDLE] = "invalid bundle"
REJECT_REASONS[REJECT_TOO_BIG] = "bundle too big for this board"
REJECT_REASONS[REJECT_INVALID_SAMPLES] = "invalid samples blob"
