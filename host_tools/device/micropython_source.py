"""Where the MicroPython source tree comes from (an external dependency, never part of the repo).

    tree = micropython_tree()     # MICROPY_DIR, or the vendor tarball extracted once into the cache
    cross = mpy_cross(tree)       # mpy-cross built once inside that tree

Order: the `MICROPY_DIR` environment variable; else the lean v1.28.0 tarball kept beside the
repository (`<some parent>/shared/vendor/`, as on the development machines), extracted once
into `~/.cache/microtrain/micropython-1.28.0` (used from there on); else a one-line UserError
telling the user to clone.
"""

import contextlib
import fcntl
import os
import pathlib
import re
import subprocess
import sys
import tarfile

from host_tools.errors import UserError

VERSION = (1, 28, 0)
VERSION_TEXT = "v%d.%d.%d" % VERSION
TARBALL = "micropython-%d.%d.%d-lean.tar.gz" % VERSION
REPO_DIR = pathlib.Path(__file__).resolve().parents[2]
CLONE_HINT = ("git clone --depth 1 --branch %s https://github.com/micropython/micropython "
              "and set MICROPY_DIR to it" % VERSION_TEXT)


def cache_dir():
    """Everything microtrain builds outside the repo: $XDG_CACHE_HOME/microtrain."""
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "microtrain"


def micropython_tree():
    """Path of a MicroPython v1.28.0 source tree (checked), extracting the vendor tarball if needed."""
    configured = os.environ.get("MICROPY_DIR")
    if configured:
        tree = pathlib.Path(configured).expanduser().resolve()
        check_tree(tree, "MICROPY_DIR=%s" % configured)
        return tree
    tree = cache_dir() / ("micropython-%d.%d.%d" % VERSION)
    with locked(cache_dir() / "micropython.lock"):
        if not (tree / "py" / "mpconfig.h").exists():
            tarball = vendor_tarball()
            if tarball is None:
                raise UserError("MicroPython source not found: " + CLONE_HINT)
            _extract(tarball, tree)
    check_tree(tree, str(tree))
    return tree


def vendor_tarball():
    """The tarball in `shared/vendor/` of the repo's nearest ancestor that has one, else None."""
    for parent in REPO_DIR.parents:
        candidate = parent / "shared" / "vendor" / TARBALL
        if candidate.is_file():
            return candidate
    return None


def check_tree(tree, where):
    """UserError unless `tree` is a MicroPython source tree at VERSION."""
    header = tree / "py" / "mpconfig.h"
    if not header.is_file():
        raise UserError("not a MicroPython source tree (no py/mpconfig.h): " + CLONE_HINT, where)
    found = tree_version(header.read_text(errors="replace"))
    if found != VERSION:
        raise UserError("MicroPython %s found, %s needed: %s" % (
            ".".join(map(str, found)) if found else "of unknown version", VERSION_TEXT, CLONE_HINT), where)


def tree_version(mpconfig_text):
    """(major, minor, micro) from py/mpconfig.h, or None."""
    parts = []
    for name in ("MAJOR", "MINOR", "MICRO"):
        found = re.search(r"#define MICROPY_VERSION_%s (\d+)" % name, mpconfig_text)
        if not found:
            return None
        parts.append(int(found.group(1)))
    return tuple(parts)


def mpy_cross(tree):
    """Path of mpy-cross, built once in the tree (where the ports' Makefiles look for it)."""
    binary = tree / "mpy-cross" / "build" / "mpy-cross"
    with locked(cache_dir() / "micropython.lock"):
        if not binary.exists():
            progress("building mpy-cross in %s" % tree)
            run_make(["make", "-C", str(tree / "mpy-cross"), "-j2"], "mpy-cross build")
    return binary


def run_make(argv, what):
    """Runs a build; on failure a UserError quoting the last meaningful output line."""
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        raise UserError("%s failed: %s" % (what, (errors or lines or ["status %d" % done.returncode])[0]))


def progress(message):
    """Builds take minutes: say so on stderr."""
    print("microtrain: " + message, file=sys.stderr, flush=True)


def _extract(tarball, tree):
    """Extracts into a sibling temporary directory, then renames: never a half-extracted tree."""
    progress("extracting %s into %s" % (tarball.name, tree))
    staging = tree.with_name(tree.name + ".partial")
    if staging.exists():
        subprocess.run(["rm", "-rf", str(staging)], check=True)
    staging.mkdir(parents=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(staging, filter="data")
    top = staging / ("micropython-%d.%d.%d" % VERSION)
    top.rename(tree)
    staging.rmdir()


@contextlib.contextmanager
def locked(path):
    """Serialises extraction and builds between concurrent test sessions and helpers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
