"""CPython only (host tools, Linux boards): open a pyserial port (device path or URL) set up for Link.

A short read timeout lets Link poll without spinning; a write timeout turns a
peer that stopped reading into a LinkError instead of a hang. For socket://
URLs (QEMU -serial tcp:...) we set TCP_NODELAY, otherwise Nagle plus delayed
ACK cost ~45 ms per round trip. Device ports are opened exclusively
(pyserial's exclusive=True: an flock on POSIX), so a second program on the
same port fails to open it instead of stealing half the bytes; bytes left in
the input buffer from an earlier session are dropped at open.
"""

import os

READ_TIMEOUT = 0.005
WRITE_TIMEOUT = 2.0


def open_serial(port, baudrate=115200, read_timeout=READ_TIMEOUT, write_timeout=WRITE_TIMEOUT):
    import serial
    options = {"exclusive": True} if "://" not in port and os.name == "posix" else {}
    transport = serial.serial_for_url(port, baudrate=baudrate, timeout=read_timeout,
                                      write_timeout=write_timeout, **options)
    transport.reset_input_buffer()
    socket = getattr(transport, "_socket", None)
    if socket is not None:
        import socket as socket_module
        socket.setsockopt(socket_module.IPPROTO_TCP, socket_module.TCP_NODELAY, 1)
    return transport
