"""MicroPython's unix port with the _microtrain module: the numpy-free engine's host twin.

    binary = build_unix_port()    # -> path of the `micropython` executable

Built from the tree micropython_source finds, out of that tree (BUILD= under the cache
directory), in a directory keyed by a hash of what goes into it: the tree's path, the
module's sources, the C core's and, when firmware/micropython/manifest_unix.py exists, that manifest (frozen into
the binary) with the Python files it can freeze (board/, protocol/). Built once per key.
"""

import hashlib
import os
import pathlib
import shutil
import subprocess

from host_tools.device.micropython_source import (REPO_DIR, cache_dir, micropython_tree, mpy_cross,
                                                  progress, locked)
from host_tools.errors import UserError

MODULES_DIR = REPO_DIR / "firmware" / "micropython" / "modules"
MANIFEST = REPO_DIR / "firmware" / "micropython" / "manifest_unix.py"
CORE_DIR = REPO_DIR / "core_cy" / "src"
FROZEN_SOURCE_DIRS = ("board", "protocol")
BUILD_SUFFIXES = (".c", ".h", ".mk")   # what make reads (not the README, not the CMake twin)
PACKAGES = "libffi-dev pkg-config"
MAKE_ARGS = ["VARIANT=standard", "MICROPY_PY_SSL=0", "MICROPY_PY_BTREE=0"]


def build_unix_port(jobs=2):
    """Builds (or reuses) the unix port with the module -> path of its `micropython` binary."""
    check_packages()
    tree = micropython_tree()
    build_dir = cache_dir() / ("unix-" + source_hash(tree))
    binary = build_dir / "micropython"
    with locked(cache_dir() / "micropython-unix.lock"):
        if binary.exists():
            return binary
        if MANIFEST.exists():
            mpy_cross(tree)
        progress("building the MicroPython unix port with _microtrain into %s (~2 min)" % build_dir)
        _make(tree, build_dir, jobs)
        if not binary.exists():
            raise UserError("MicroPython unix build finished without %s" % binary)
        progress("MicroPython unix port ready: %s" % binary)
    return binary


def make_argv(tree, build_dir, jobs):
    manifest = str(MANIFEST) if MANIFEST.exists() else ""
    return (["make", "-C", str(tree / "ports" / "unix"), "-j%d" % jobs] + MAKE_ARGS
            + ["FROZEN_MANIFEST=" + manifest, "USER_C_MODULES=" + str(MODULES_DIR),
               "BUILD=" + str(build_dir)])


def source_hash(tree):
    """SHA-256 (16 hex digits) over the MicroPython tree's path and every file the binary
    depends on in this repo."""
    digest = hashlib.sha256(str(tree).encode() + b"\0")
    for path in _inputs():
        name = path.relative_to(REPO_DIR) if REPO_DIR in path.parents else path
        digest.update(str(name).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _inputs():
    files = [p for p in MODULES_DIR.rglob("*") if p.suffix in BUILD_SUFFIXES]
    files += [p for p in CORE_DIR.iterdir() if p.suffix in BUILD_SUFFIXES]
    if MANIFEST.exists():
        files.append(MANIFEST)
        for name in FROZEN_SOURCE_DIRS:
            files += (REPO_DIR / name).rglob("*.py")
    return sorted(p for p in files if "__pycache__" not in p.parts)


def check_packages():
    """One-line UserError naming the Debian packages the unix port needs."""
    missing = [tool for tool in ("make", "gcc", "pkg-config") if shutil.which(tool) is None]
    if not missing and subprocess.run(["pkg-config", "--exists", "libffi"]).returncode != 0:
        missing.append("libffi")
    if missing:
        raise UserError("the MicroPython unix port needs %s: apt-get install --no-install-recommends "
                        "build-essential %s" % (", ".join(missing), PACKAGES))


def _make(tree, build_dir, jobs):
    """Runs make with its output in build_dir/build.log; progress lines for each stage."""
    build_dir.mkdir(parents=True, exist_ok=True)
    log_path = build_dir / "build.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(make_argv(tree, build_dir, jobs), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=dict(os.environ, LC_ALL="C"))
        compiled = 0
        for line in process.stdout:
            log.write(line)
            if line.startswith("CC "):
                compiled += 1
                if compiled % 50 == 0:
                    progress("  %d files compiled" % compiled)
            elif line.startswith(("LINK ", "MPY ")):
                progress("  " + line.strip())
        status = process.wait()
    if status != 0:
        lines = log_path.read_text(errors="replace").splitlines()
        errors = [line for line in lines if "error" in line.lower()]
        shown = (errors or [line for line in lines if line.strip()] or ["status %d" % status])[0]
        raise UserError("MicroPython unix build failed (log %s): %s" % (log_path, shown.strip()))
