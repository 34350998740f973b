"""Independent symbolic replay of a swap schedule: trusts nothing the scheduler computed
except the schedule itself.

Each value a tensor takes gets a fresh version number. The replay tracks, per tensor,
the version held by its arena bytes and by its flash bytes; writing bytes (an op, a
read landing, a write-back) clobbers every other tensor sharing them. It asserts that
  * every op finds its operands resident and reads the latest version;
  * no read is left in flight into bytes an op or another transfer touches;
  * a write-back copies the latest version and only when flash does not already hold it;
  * nothing dead is moved: a value read from flash is used before being overwritten,
    and a non-persistent value written to flash is read back;
  * at each iteration end every persistent tensor holds its latest value at home();
  * the bytes moved per iteration match the schedule's figures.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import count
from typing import Sequence

from host_tools.planning import validate

from .events import Action, When
from .uses import TensorUse, starts_before_op0


class SimulationError(AssertionError):
    pass


def _overlapping(spans: dict[int, tuple[int, int]]) -> dict[int, set[int]]:
    return {a: {b for b, (lo, hi) in spans.items() if b != a and lo < spans[a][1] and spans[a][0] < hi}
            for a in spans}


class _Replay:
    def __init__(self, schedule, uses: Sequence[TensorUse], n_ops: int):
        self.schedule, self.n_ops = schedule, n_ops
        self.uses = {use.id: use for use in uses}
        self.fresh = count(1)
        self.latest: dict[int, int | None] = {}
        self.arena: dict[int, int | None] = defaultdict(lambda: None)
        self.flash: dict[int, int | None] = defaultdict(lambda: None)
        self.pending: dict[int, tuple[int, int | None]] = {}   # tag -> (tensor, version)
        self.unconsumed: set[int] = set()      # read from flash, not yet used
        self.unread_flash: set[int] = set()    # non-persistent value written, not yet read back
        self.moved = {Action.READ_START: 0, Action.WRITE: 0}
        offsets = schedule.plan.offsets
        self.arena_share = _overlapping({t: (offsets[t], offsets[t] + self.uses[t].size) for t in offsets})
        fo = schedule.flash_offsets
        self.flash_share = _overlapping({t: (fo[t], fo[t] + self.uses[t].size) for t in fo})
        self.intervals = {buffer.id: buffer.intervals for buffer in schedule.buffers}
        self.events = defaultdict(list)
        for event in schedule.events:
            self.events[(event.op, event.when)].append(event)

    def fail(self, message: str):
        raise SimulationError(message)

    def resident(self, tid: int, op: int) -> bool:
        return any(first <= op <= last for first, last in self.intervals.get(tid, ()))

    # ---- bytes changing hands ----
    def land_in_arena(self, tid: int, version: int | None) -> None:
        for other in self.arena_share[tid] | {tid}:
            self.arena[other] = None
        self.arena[tid] = version

    def busy_with_read(self, tid: int) -> int | None:
        for tag, (reading, _) in self.pending.items():
            if reading == tid or reading in self.arena_share.get(tid, ()):
                return reading
        return None

    # ---- events ----
    def check_place(self, event) -> None:
        tid = event.tensor
        if event.arena_offset != self.schedule.plan.offsets.get(tid) or event.nbytes != self.uses[tid].size:
            self.fail(f"event {event} does not match tensor {tid}'s arena offset or size")
        if event.flash_offset != self.schedule.flash_offsets.get(tid):
            self.fail(f"event {event} does not match tensor {tid}'s flash home")

    def read_start(self, event, op: int) -> None:
        tid = event.tensor
        if event.tag in self.pending:
            self.fail(f"op {op}: tag {event.tag} already in flight")
        if self.busy_with_read(tid) is not None:
            self.fail(f"op {op}: read of {tid} lands on bytes another read is filling")
        if not self.resident(tid, op):
            self.fail(f"op {op}: tensor {tid} read into the arena outside its residency")
        if self.flash[tid] is None:
            self.fail(f"op {op}: tensor {tid} read from flash that holds no value of it")
        self.pending[event.tag] = (tid, self.flash[tid])
        self.land_in_arena(tid, None)
        self.unread_flash.discard(tid)
        self.moved[Action.READ_START] += event.nbytes

    def read_wait(self, event, op: int) -> None:
        tid, version = self.pending.pop(event.tag, (None, None))
        if tid != event.tensor:
            self.fail(f"op {op}: wait for tag {event.tag} does not match a read of {event.tensor}")
        if version != self.latest[tid]:
            self.fail(f"op {op}: tensor {tid} read a stale flash copy")
        self.arena[tid] = version
        self.unconsumed.add(tid)

    def write(self, event, op: int) -> None:
        tid = event.tensor
        if self.arena[tid] is None or self.arena[tid] != self.latest[tid]:
            self.fail(f"op {op}: write-back of {tid} copies bytes that are not its latest value")
        if self.flash[tid] == self.latest[tid]:
            self.fail(f"op {op}: write-back of {tid} whose flash copy is already valid")
        for other in self.flash_share[tid]:
            if any(reading == other for reading, _ in self.pending.values()):
                self.fail(f"op {op}: write-back of {tid} overwrites flash {other} is being read from")
            self.flash[other] = None
        self.flash[tid] = self.latest[tid]
        if not self.uses[tid].persistent:
            self.unread_flash.add(tid)
        self.moved[Action.WRITE] += event.nbytes

    def run_events(self, op: int, when: When) -> None:
        for event in self.events.get((op, when), ()):
            self.check_place(event)
            {Action.READ_START: self.read_start, Action.READ_WAIT: self.read_wait,
             Action.WRITE: self.write}[event.action](event, op)

    # ---- ops ----
    def execute(self, op: int, reads: set[int], writes: set[int]) -> None:
        for tid in reads | writes:
            if not self.resident(tid, op):
                self.fail(f"op {op}: operand {tid} is not resident")
            busy = self.busy_with_read(tid)
            if busy is not None:
                self.fail(f"op {op}: operand {tid} shares bytes with {busy}, still being read")
        for tid in reads:
            if self.latest.get(tid) is None or self.arena[tid] != self.latest[tid]:
                self.fail(f"op {op}: operand {tid} does not hold its latest value")
            self.unconsumed.discard(tid)
        for tid in writes - reads:
            self.value_dies(tid, f"op {op}")
        for tid in writes:
            self.latest[tid] = next(self.fresh)
            self.land_in_arena(tid, self.latest[tid])

    def value_dies(self, tid: int, where: str) -> None:
        if tid in self.unconsumed:
            self.fail(f"{where}: tensor {tid} was read from flash but never used")
        if tid in self.unread_flash:
            self.fail(f"{where}: tensor {tid} was written to flash but never read back")

    # ---- iterations ----
    def start(self) -> None:
        for tid, use in self.uses.items():
            if use.persistent:
                self.latest[tid] = next(self.fresh)
                place = self.schedule.homes.get(tid)
                if place == "flash":
                    self.flash[tid] = self.latest[tid]
                elif tid in self.schedule.plan.offsets:
                    self.land_in_arena(tid, self.latest[tid])

    def load(self) -> None:
        for tid, use in self.uses.items():
            if not use.persistent:
                self.latest[tid] = None
            if starts_before_op0(use):
                self.latest[tid] = next(self.fresh)
                self.land_in_arena(tid, self.latest[tid])

    def finish_iteration(self, iteration: int) -> None:
        if self.pending:
            self.fail(f"iteration {iteration} ends with reads in flight: {self.pending}")
        for tid, use in self.uses.items():
            if use.persistent:
                place = self.schedule.homes.get(tid)
                held = self.flash[tid] if place == "flash" else self.arena[tid]
                if held != self.latest[tid]:
                    self.fail(f"iteration {iteration}: persistent {tid} not at home ({place}) with its latest value")
            else:
                self.value_dies(tid, f"end of iteration {iteration}")
        expected = (self.schedule.read_bytes_per_iteration, self.schedule.write_bytes_per_iteration)
        got = (self.moved[Action.READ_START], self.moved[Action.WRITE])
        if got != expected:
            self.fail(f"iteration {iteration} moved (read, written) {got}, schedule says {expected}")
        self.moved = {Action.READ_START: 0, Action.WRITE: 0}

    def run(self, iterations: int) -> None:
        per_op = defaultdict(lambda: (set(), set()))
        for tid, use in self.uses.items():
            for op in use.reads:
                per_op[op][0].add(tid)
            for op in use.writes:
                per_op[op][1].add(tid)
        self.start()
        for iteration in range(iterations):
            self.load()
            for op in range(self.n_ops):
                self.run_events(op, When.BEFORE)
                self.execute(op, *per_op[op])
                self.run_events(op, When.AFTER)
            self.finish_iteration(iteration)


def _check_event_order(schedule, n_ops: int) -> None:
    keys = [(event.op, event.when) for event in schedule.events]
    if keys != sorted(keys):
        raise SimulationError("events are not sorted by (op, when)")
    if any(not 0 <= event.op < n_ops for event in schedule.events):
        raise SimulationError("an event is attached to an op outside the iteration")


def simulate(schedule, uses: Sequence[TensorUse], n_ops: int, iterations: int = 3) -> None:
    """Raise SimulationError if replaying `schedule` for `iterations` iterations goes wrong."""
    validate(list(schedule.buffers), schedule.plan, schedule.alignment)
    _check_event_order(schedule, n_ops)
    if schedule.plan.arena_bytes != schedule.peak_ram_bytes:
        raise SimulationError("peak RAM differs from the arena size")
    _Replay(schedule, uses, n_ops).run(iterations)
