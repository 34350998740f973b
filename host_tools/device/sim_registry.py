"""Simulated boards running on this machine: `microtrain board-sim` records
its pty in a small runtime file while it runs, `microtrain ports` lists it.

One JSON file per simulator process, in $XDG_RUNTIME_DIR/microtrain (or the
temporary directory); a file whose process is gone is stale and dropped."""
import json
import os
import tempfile
from pathlib import Path


def registry_dir():
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "microtrain"
    return Path(tempfile.gettempdir()) / f"microtrain-{os.getuid()}"


def _record(pid):
    return registry_dir() / f"board-sim-{pid}.json"


def register(port, storage, name):
    """Records this process's simulator; returns the file to drop at exit (or None)."""
    record = _record(os.getpid())
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"port": port, "pid": os.getpid(), "storage": str(storage),
                                      "name": name}))
    except OSError:
        return None     # listing is a convenience: never fail the simulator for it
    return record


def unregister(record):
    if record is not None:
        try:
            record.unlink(missing_ok=True)
        except OSError:
            pass


def running_sims():
    """[{'port', 'pid', 'storage', 'name'}] of the simulators still running."""
    sims = []
    for record in sorted(registry_dir().glob("board-sim-*.json")):
        try:
            entry = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and _alive(entry.get("pid")) and \
                os.path.exists(str(entry.get("port"))):
            sims.append(entry)
        else:
            unregister(record)
    return sims


def _alive(pid):
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True     # someone else's process, but alive
    return True
