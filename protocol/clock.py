"""Monotonic seconds as a float, on CPython and MicroPython.

MicroPython has no time.monotonic; its ticks_ms() wraps (every 2**30 ms on
most ports), so we accumulate ticks_diff() steps. That stays right as long as
now() is called at least once per half wrap (~6 days), which any poll loop does.
"""

import time

try:
    now = time.monotonic
except AttributeError:
    _last_ticks = time.ticks_ms()
    _elapsed_ms = 0

    def now():
        global _last_ticks, _elapsed_ms
        ticks = time.ticks_ms()
        _elapsed_ms += time.ticks_diff(ticks, _last_ticks)
        _last_ticks = ticks
        return _elapsed_ms / 1000.0
