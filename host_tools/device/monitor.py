"""Watching a training board: collect its PROGRESS/LOG events into a
TrainingLog and a view until training ends (FINISHED/STOPPED/FAILED).

Silence is never waited out blindly: after PING_AFTER seconds without an
event (while the board says it trains, which it reports at least every
0.2 s: PING_AFTER_RUNNING, or twice the longest gap seen so far on a board
whose single iterations take longer) the board gets a HELLO with a retry
budget sized the same way, so a frozen board fails within about 1.3 s; after
idle_timeout seconds without progress we give up. A failure is reported
before anything slow (the PNG)."""
import math
import time

from host_tools.device.curves import save_png
from host_tools.device.progress import LogLine, Progress, TrainingLog
from host_tools.errors import UserError

TICK = 0.05             # link service slice between redraws
PING_AFTER = 2.0
PING_AFTER_RUNNING = 0.5    # two missed PROGRESS reports (contract: one per 0.2 s)
PROBE_RETRIES = 3           # silent ack timeouts (0.2 s each) before a probe fails
STOP_GRACE = 3.0        # after TRAIN_STOP, how long to wait for the STOPPED event


class Monitor:
    def __init__(self, client, view, since=None, idle_timeout=30.0, show_debug=False):
        """since: index into client.events to start from (events that came
        with TRAIN_START's reply arrive before anyone is watching)."""
        self.client = client
        self.view = view
        self.idle_timeout = idle_timeout
        self.show_debug = show_debug
        self.log = TrainingLog()
        self.longest_gap = 0.0    # seconds between two events, the longest seen
        self._pending = list(client.events[len(client.events) if since is None else since:])
        client.listeners.append(self._pending.append)

    @property
    def done(self):
        return self.log.last is not None and self.log.last.done

    def run(self, deadline=None):
        """Until training ends (or `deadline`, a monotonic time) -> TrainingLog."""
        last_progress = last_heard = time.monotonic()
        while not self.done and (deadline is None or time.monotonic() < deadline):
            self.client.pump(TICK)
            now = time.monotonic()
            if self._pending:
                self.longest_gap = max(self.longest_gap, now - last_heard)
                last_heard = now
                if self._drain():
                    last_progress = now
            elif now - last_heard > self._ping_after():
                self._probe()           # UserError if the board is gone
                last_heard = time.monotonic()
            if now - last_progress > self.idle_timeout:
                raise UserError(f"no training progress from board {self.client.name} on "
                                f"{self.client.port} for {self.idle_timeout:g} s "
                                f"(is it training? use --start)")
            self.view.update(self.log)
        self.view.update(self.log, force=True)
        return self.log

    def _ping_after(self):
        running = self.log.last is not None and self.log.last.state == "RUNNING"
        return max(PING_AFTER_RUNNING, 2 * self.longest_gap) if running else PING_AFTER

    def _probe(self):
        """HELLO with a short retry budget (longer for a board seen to pause
        longer between reports): a frozen board fails it fast."""
        link = self.client.link
        needed = max(PROBE_RETRIES, math.ceil(2 * self.longest_gap / link.ack_timeout))
        retries, link.retries = link.retries, min(link.retries, needed)
        try:
            self.client.hello()
        finally:
            link.retries = retries

    def stop_training(self):
        """TRAIN_STOP, then wait briefly for the board's STOPPED report."""
        self.client.stop()
        if not self.done:
            try:
                self.run(deadline=time.monotonic() + STOP_GRACE)
            except UserError:
                pass  # the stop was acknowledged; a missing last report is no error

    def _drain(self):
        """Moves arrived events into the log/view; True if any was progress."""
        got_progress = False
        while self._pending:
            event = self._pending.pop(0)
            if isinstance(event, Progress):
                self.log.add(event)
                got_progress = True
            elif isinstance(event, LogLine) and (self.show_debug or event.level > 10):
                self.view.message(str(event))
        return got_progress

    def save(self, csv_path, png_path, title):
        """CSV log and (png_path not None) PNG curves; returns the paths written."""
        written = []
        if csv_path:
            self.log.write_csv(csv_path)
            written.append(csv_path)
        if png_path and self.log.rows:
            save_png(self.log, png_path, title)
            written.append(png_path)
        return written


def watch(client, since, csv_path, png_path, live=True, stop_on_interrupt=False,
          idle_timeout=30.0, title="training"):
    """Shows training until it ends or Ctrl-C (then TRAIN_STOP if we started it);
    writes the CSV and PNG either way, but on a failure only the CSV (drawing
    takes seconds; the error must not wait). Returns (TrainingLog, interrupted)."""
    from host_tools.device.view import make_view
    view = make_view(live)
    monitor = Monitor(client, view, since, idle_timeout)
    interrupted, failed = False, True
    try:
        monitor.run()
        failed = False
    except KeyboardInterrupt:
        interrupted = True
        if stop_on_interrupt:
            view.message("interrupted: stopping training on the board")
            monitor.stop_training()
        failed = False
    finally:
        view.close()
        for path in monitor.save(csv_path, None if failed else png_path, title):
            print(f"wrote {path}")
    return monitor.log, interrupted
