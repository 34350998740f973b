"""How training progress is shown: a live terminal view (rich Live with a
progress bar and plotext curves, redrawn a few times a second) or, when
stdout is not a terminal, plain lines (one per epoch and one at the end)."""
import sys
import time

from host_tools.device.curves import terminal_chart

REDRAW_EVERY = 0.25     # seconds; plotext + rich take a few ms per frame
CHART_HEIGHT = 14


def status_line(row):
    parts = [f"{row.state:<8} epoch {row.epoch}", f"iteration {row.iteration}/{row.total_iterations}",
             f"loss {row.loss:.4f}", f"acc {100 * row.accuracy:5.1f}%"]
    if row.test_accuracy is not None:
        parts.append(f"held-out acc {100 * row.test_accuracy:5.1f}%")
    parts += [f"{row.samples_per_s:,.0f} samples/s", f"arena {row.arena_bytes / 1024:,.1f} KiB"]
    if row.swap_read_bytes or row.swap_written_bytes:
        parts.append(f"swap r/w {row.swap_read_bytes / 1024:,.1f}/"
                     f"{row.swap_written_bytes / 1024:,.1f} KiB")
    return "  ".join(parts)


def eta_text(log):
    """'ETA 1:05' from the iteration rate since the first report ('' before it is known)."""
    first, last = log.rows[0], log.rows[-1]
    done, seconds = last.iteration - first.iteration, last.time_s - first.time_s
    if last.done or done <= 0 or seconds <= 0:
        return ""
    left = round((last.total_iterations - last.iteration) * seconds / done)
    return f"ETA {left // 60}:{left % 60:02d}"


def make_view(live):
    return LiveView() if live and sys.stdout.isatty() else PlainView()


class PlainView:
    """One line per epoch (its last report) and one for the end state."""

    def __init__(self):
        self._seen = 0

    def update(self, log, force=False):
        rows = log.rows
        for index in range(self._seen, len(rows)):
            row, following = rows[index], rows[index + 1] if index + 1 < len(rows) else None
            if following is None and not (row.done or force):
                break  # its epoch may go on: decide when the next report comes
            if row.done or following is None or following.epoch != row.epoch:
                print(status_line(row), flush=True)
            self._seen = index + 1

    def message(self, text):
        print(text, flush=True)

    def close(self):
        pass


class LiveView:
    def __init__(self):
        from rich.console import Console
        from rich.live import Live
        self.console = Console()
        self.live = Live(console=self.console, auto_refresh=False, transient=False)
        self.live.start()
        self._drawn = 0.0

    def update(self, log, force=False):
        if log.last is None or (not force and time.monotonic() - self._drawn < REDRAW_EVERY):
            return
        self.live.update(self._render(log), refresh=True)
        self._drawn = time.monotonic()

    def _render(self, log):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.text import Text
        row = log.last
        width = max(40, min(self.console.width - 1, 120))
        return Group(
            Text(f"{status_line(row)}  {eta_text(log)}".rstrip()),
            ProgressBar(total=max(row.total_iterations, 1), completed=row.iteration, width=width),
            Text.from_ansi(terminal_chart(log, width, CHART_HEIGHT)))

    def message(self, text):
        self.live.console.print(text, markup=False, highlight=False)

    def close(self):
        self.live.stop()
