"""PROGRESS and LOG events from a training board, and the log of them the
monitor keeps (and writes as CSV)."""
import csv
import time
from dataclasses import astuple, dataclass, fields

from protocol import messages as m

STATE_NAMES = {m.STATE_RUNNING: "RUNNING", m.STATE_FINISHED: "FINISHED",
               m.STATE_STOPPED: "STOPPED", m.STATE_FAILED: "FAILED"}
LEVEL_NAMES = {m.LOG_DEBUG: "debug", m.LOG_INFO: "info", m.LOG_WARNING: "warning",
               m.LOG_ERROR: "error"}


@dataclass
class Progress:
    time_s: float           # seconds since the log started
    state: str
    epoch: int
    iteration: int
    total_iterations: int
    loss: float
    accuracy: float
    samples_per_s: float
    arena_bytes: int
    swap_read_bytes: int
    swap_written_bytes: int
    test_accuracy: float = None     # held-out accuracy at an epoch's end, when known

    @property
    def done(self):
        return self.state != "RUNNING"


@dataclass
class LogLine:
    level: int
    text: str

    def __str__(self):
        return f"board {LEVEL_NAMES.get(self.level, self.level)}: {self.text}"


def decode_event(message, started):
    """A link event Message -> Progress, LogLine, or None (unknown type)."""
    if message.msg_type == m.PROGRESS:
        f = m.decode(m.PROGRESS, message.payload)
        return Progress(time.monotonic() - started, STATE_NAMES.get(f["state"], str(f["state"])),
                        f["epoch"], f["iteration"], f["total_iterations"], f["loss"],
                        f["accuracy"], f["samples_per_s"], f["arena_bytes"],
                        f["swap_read_bytes"], f["swap_written_bytes"], f["test_accuracy"])
    if message.msg_type == m.LOG:
        f = m.decode(m.LOG, message.payload)
        return LogLine(f["level"], f["text"])
    return None


class TrainingLog:
    def __init__(self):
        self.rows = []

    def add(self, progress):
        self.rows.append(progress)

    @property
    def last(self):
        return self.rows[-1] if self.rows else None

    def write_csv(self, path):
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([f.name for f in fields(Progress)])
            for row in self.rows:
                writer.writerow(astuple(row))
