"""A pyserial-like transport over an inherited file descriptor (CPython only).

The board simulator (board/sim.py) hands the agent the master side of a pty
as a plain fd: a pty master has no path pyserial could open. Same three
members Link needs (read with a timeout, write, in_waiting) plus a settable
`timeout` and reset_input_buffer(), like serial.Serial.
"""

import fcntl
import os
import select
import struct
import termios

WRITE_TIMEOUT = 2.0


class FdTransport:
    def __init__(self, fd, timeout=0.005, write_timeout=WRITE_TIMEOUT):
        self.fd = fd
        self.timeout = timeout
        self.write_timeout = write_timeout
        os.set_blocking(fd, False)

    @property
    def in_waiting(self):
        return struct.unpack("i", fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0"))[0]

    def read(self, size=1):
        ready, _, _ = select.select([self.fd], [], [], self.timeout)
        if not ready:
            return b""
        try:
            return os.read(self.fd, size)
        except BlockingIOError:
            return b""

    def reset_input_buffer(self):
        """Drop every byte waiting to be read (pyserial's name for it)."""
        while True:
            try:
                if not os.read(self.fd, 4096):
                    return
            except (BlockingIOError, OSError):
                return

    def write(self, data):
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self.fd], [], self.write_timeout)
            if not ready:
                raise OSError("write timed out: the peer is not reading")
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                continue
        return len(data)

    def close(self):
        os.close(self.fd)
