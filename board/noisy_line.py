"""A byte-level noisy serial line for tests and benchmarks (CPython only).

NoisyLine opens a serial port path (e.g. a board simulator's pty) and offers a
new pty path in its place; a thread copies bytes both ways and hits a share
`rate` of them, each hit one of: the byte is dropped, duplicated, gets flipped
bits, or the line stalls (STALL_SECONDS) before the byte. Each direction has
its own seeded generator, and the gap to the next hit is drawn from the
geometric distribution, so the proxy costs a few random numbers per hit, not
one per byte (it must not starve the two ends of CPU).
"""

import math
import os
import random
import select
import threading
import time
import tty

HITS = ("drop", "duplicate", "flip", "stall")
STALL_SECONDS = (0.005, 0.03)


class NoisyLine:
    def __init__(self, port_path, rate, seed=0, kinds=HITS):
        self.rate = rate
        self.kinds = tuple(kinds)   # which of HITS a hit may be
        self.far = os.open(port_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.far)
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.port_path = os.ttyname(self.slave)   # what the host opens
        self.hits = dict.fromkeys(HITS, 0)
        self.bytes = 0
        self.routes = {self.master: self._route(self.far, seed),
                       self.far: self._route(self.master, seed + 1)}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _route(self, target, seed):
        rng = random.Random(seed)
        return {"target": target, "rng": rng, "until_hit": self._gap(rng)}

    def _gap(self, rng):
        if self.rate <= 0:
            return math.inf
        return int(math.log(1.0 - rng.random()) / math.log(1.0 - self.rate))

    def _run(self):
        while self.running:
            ready, _, _ = select.select(list(self.routes), [], [], 0.01)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except (BlockingIOError, OSError):
                    continue   # the far end may be between two lives (a restarting board)
                self.bytes += len(data)
                self._forward(data, self.routes[fd])

    def _forward(self, data, route):
        start = 0
        while start + route["until_hit"] < len(data):
            hit = start + route["until_hit"]
            self._write(route["target"], data[start:hit])
            self._hit(data[hit:hit + 1], route)
            start = hit + 1
            route["until_hit"] = self._gap(route["rng"])
        route["until_hit"] -= len(data) - start
        self._write(route["target"], data[start:])

    def _hit(self, byte, route):
        rng = route["rng"]
        kind = self.kinds[rng.randrange(len(self.kinds))]
        self.hits[kind] += 1
        if kind == "duplicate":
            byte = byte + byte
        elif kind == "flip":
            byte = bytes([byte[0] ^ rng.randrange(1, 256)])
        elif kind == "stall":
            time.sleep(rng.uniform(*STALL_SECONDS))
        if kind != "drop":
            self._write(route["target"], byte)

    def _write(self, fd, data):
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                select.select([], [fd], [], 0.05)
            except OSError:
                return   # nobody at that end: the bytes are lost, as on a real line

    def close(self):
        self.running = False
        self.thread.join()
        for fd in (self.master, self.slave, self.far):
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
