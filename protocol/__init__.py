"""microtrain serial link layer: COBS framing, CRC-32 frames, stop-and-wait ARQ
and the message set shared by host tools and the board. See docs/protocol.md.

Pure Python with struct/binascii/time only, so the board side ports to
MicroPython; serial_port.py (pyserial) is the only CPython-only module.
"""

from .link import Link, LinkError, Message
from .frame import MAX_PAYLOAD
