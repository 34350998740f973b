"""The board's serial line on the QEMU MicroPython firmware: UART0 through the mtboard
C module (firmware/micropython/modules/mtboard). Same members Link needs as
pyserial's Serial: read with a timeout, write, in_waiting, a settable `timeout`,
reset_input_buffer(). The UART carries nothing but protocol frames (the port sends
print() output to the host console instead).
"""

try:
    import mtboard
except ImportError:     # not the QEMU firmware: its UART is the only one this module drives
    raise ImportError("--port uart needs the QEMU MicroPython firmware's mtboard module "
                      "(firmware/micropython/qemu); elsewhere use --port fd:N or stdio")

CHUNK = 256     # a frame is at most 253 bytes on the wire


class UartTransport:
    def __init__(self, timeout=0.005):
        self.timeout = timeout
        self._buffer = bytearray(CHUNK)
        self._pending = b""

    @property
    def in_waiting(self):
        if not self._pending and mtboard.uart_any():
            self._pending = self._read(0)
        return len(self._pending)

    def read(self, size=1):
        if not self._pending:
            self._pending = self._read(int(self.timeout * 1000))
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def _read(self, timeout_ms):
        count = mtboard.uart_read(self._buffer, timeout_ms)
        return bytes(self._buffer[:count])

    def reset_input_buffer(self):
        self._pending = b""
        while self._read(0):
            pass

    def write(self, data):
        return mtboard.uart_write(data)
