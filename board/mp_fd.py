"""The board's serial line as an inherited file descriptor, on MicroPython's unix port.

The unix port has no os.read/os.write and no fcntl, so the descriptor (a pty
master the host simulator opened and set non-blocking before starting us) is
wrapped in an unbuffered file and polled with select.poll. Same members as
board/fd_transport.py: read with a timeout, write, in_waiting, a settable
`timeout`, reset_input_buffer().
"""

import select

WRITE_TIMEOUT_MS = 2000
CHUNK = 256     # bytes read at once: a frame is at most 253 on the wire


class MpFdTransport:
    def __init__(self, fd, timeout=0.005):
        self.file = open(fd, "r+b", buffering=0)
        self.timeout = timeout
        self._poll = select.poll()
        self._poll.register(self.file, select.POLLIN)
        self._pending = b""     # bytes read by in_waiting, not yet handed out

    @property
    def in_waiting(self):
        if not self._pending:
            self._pending = self._read_now(CHUNK)
        return len(self._pending)

    def read(self, size=1):
        if not self._pending and self._poll.poll(int(self.timeout * 1000)):
            self._pending = self._read_now(CHUNK)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def _read_now(self, size):
        data = self.file.read(size)   # non-blocking fd: None when nothing waits
        return data or b""

    def reset_input_buffer(self):
        self._pending = b""
        while self._read_now(CHUNK):
            pass

    def write(self, data):
        view = memoryview(data)
        writable = select.poll()
        writable.register(self.file, select.POLLOUT)
        while view:
            if not writable.poll(WRITE_TIMEOUT_MS):
                raise OSError("write timed out: the peer is not reading")
            written = self.file.write(view)
            if written:
                view = view[written:]
        return len(data)
