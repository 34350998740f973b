"""The board agent's MicroPython firmware for QEMU's Cortex-M boards.

    elf = build("micropython-m4f")   # or "micropython-m3" -> path of firmware.elf

Builds firmware/micropython/qemu (an out-of-tree MicroPython port: the _microtrain and
mtboard modules, the agent frozen in) against the tree micropython_source finds, into
$XDG_CACHE_HOME/microtrain/qemu-<board>-<hash>, the hash covering every repo file that goes
into the image. Built once per hash (so once per test run); progress lines on stderr.
"""

import hashlib
import os
import pathlib
import shutil
import subprocess

from host_tools.device.micropython_source import (REPO_DIR, cache_dir, locked, micropython_tree,
                                                  mpy_cross, progress)
from host_tools.errors import UserError

MICROPYTHON_DIR = REPO_DIR / "firmware" / "micropython"
PORT_DIR = MICROPYTHON_DIR / "qemu"
# --target -> (board folder in PORT_DIR/boards, QEMU machine)
TARGETS = {"micropython-m4f": ("MPS2_AN386", "mps2-an386"),
           "micropython-m3": ("MPS2_AN385", "mps2-an385")}
TOOLS = {"arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi", "make": "make"}
SOURCES = ((MICROPYTHON_DIR, "*"), (REPO_DIR / "core_cy" / "src", "*"),
           (REPO_DIR / "board", "*.py"), (REPO_DIR / "protocol", "*.py"))


def build(target, jobs=2):
    """Builds (or reuses) the target's firmware -> path of its ELF."""
    if target not in TARGETS:
        raise UserError("unknown MicroPython target %r (choose %s)" % (target, ", ".join(TARGETS)))
    check_tools()
    board = TARGETS[target][0]
    tree = micropython_tree()
    build_dir = cache_dir() / ("qemu-%s-%s" % (board, source_hash()))
    elf = build_dir / "firmware.elf"
    with locked(cache_dir() / "micropython-qemu.lock"):
        if elf.exists():
            return elf
        mpy_cross(tree)
        progress("building MicroPython for %s (%s) into %s (~2 min)" % (target, board, build_dir))
        _make(tree, board, build_dir, jobs)
        if not elf.exists():
            raise UserError("MicroPython firmware build finished without %s" % elf)
        progress("MicroPython firmware ready: %s" % elf)
    return elf


def check_tools():
    """One-line UserError naming the Debian packages when the cross toolchain is missing."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise UserError("%s not found: apt-get install --no-install-recommends %s"
                        % (", ".join(missing), " ".join(TOOLS[tool] for tool in missing)))


def source_hash():
    """SHA-256 (16 hex digits) over the repo files the firmware is built from."""
    digest = hashlib.sha256()
    for path in _inputs():
        digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _inputs():
    files = []
    for folder, pattern in SOURCES:
        files += [path for path in folder.rglob(pattern) if path.is_file()]
    return sorted(path for path in files if not any(
        part == "__pycache__" or part.startswith("build-") for part in path.parts))


def make_argv(tree, board, build_dir, jobs):
    return ["make", "-C", str(PORT_DIR), "-j%d" % jobs, "MICROPY_DIR=" + str(tree),
            "BOARD=" + board, "BUILD=" + str(build_dir)]


def _make(tree, board, build_dir, jobs):
    """make, its output in build_dir/build.log, a progress line every 100 files compiled."""
    build_dir.mkdir(parents=True, exist_ok=True)
    log_path = build_dir / "build.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(make_argv(tree, board, build_dir, jobs), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=dict(os.environ, LC_ALL="C"))
        compiled = 0
        for line in process.stdout:
            log.write(line)
            compiled += line.startswith("CC ")
            if line.startswith("CC ") and compiled % 100 == 0:
                progress("  %d files compiled" % compiled)
        status = process.wait()
    if status != 0:
        lines = pathlib.Path(log_path).read_text(errors="replace").splitlines()
        errors = [line for line in lines if "error" in line.lower()]
        shown = (errors or [line for line in lines if line.strip()] or ["status %d" % status])[0]
        raise UserError("MicroPython firmware build failed (log %s): %s" % (log_path, shown.strip()))
