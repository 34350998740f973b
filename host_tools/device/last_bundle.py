"""Remembers the last bundle flashed from this machine, so `microtrain pull`
can decode the board's weights without being told the bundle again."""
import os
from pathlib import Path


def _record_path():
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "microtrain" / "last_bundle"


def remember(bundle_path):
    record = _record_path()
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(str(Path(bundle_path).resolve()) + "\n")
    except OSError:
        pass  # a read-only home must not fail a flash that worked


def recall():
    """Path of the last flashed bundle, or None."""
    try:
        text = _record_path().read_text().strip()
    except OSError:
        return None
    return text or None
