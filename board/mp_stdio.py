"""The board's serial line as MicroPython's own console: on most real boards (RP2040,
ESP32-S3, STM32 with native USB) the USB CDC port the host sees as /dev/ttyACM0.

Ctrl-C is switched off (0x03 is data here) and board/mp_main.py silences the agent's log
lines, which would otherwise go down the same line. Same members Link needs as pyserial's
Serial; `in_waiting` says whether bytes wait (256 if any: reads stop when the line is empty).
"""

import select
import sys

READY_ESTIMATE = 256


class StdioTransport:
    def __init__(self, timeout=0.005):
        try:
            import micropython
            micropython.kbd_intr(-1)
        except (ImportError, AttributeError):
            pass
        self.timeout = timeout
        self._in, self._out = sys.stdin.buffer, sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def _ready(self, timeout_ms):
        return bool(self._poll.poll(timeout_ms))

    @property
    def in_waiting(self):
        return READY_ESTIMATE if self._ready(0) else 0

    def read(self, size=1):
        if not self._ready(int(self.timeout * 1000)):
            return b""
        out = bytearray()
        while len(out) < size and self._ready(0):
            out += self._in.read(1)
        return bytes(out)

    def reset_input_buffer(self):
        while self._ready(0):
            self._in.read(1)

    def write(self, data):
        self._out.write(data)
        return len(data)
