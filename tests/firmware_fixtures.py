"""Shared by tests/test_firmware_*.py: build each firmware once per session
(failing, not skipping, with the Debian packages to install when the
toolchain or QEMU is missing), boot it, talk to it."""

import subprocess
import time

import numpy as np
import pytest

from host_tools.cli import main
from host_tools.device.client import BoardClient
from host_tools.errors import UserError

_BUILT = {}


def firmware(target):
    """Path of the target's ELF, built on first use in this session."""
    if target not in _BUILT:
        from host_tools.device.qemu_board import build_firmware
        try:
            _BUILT[target] = build_firmware(target)
        except UserError as error:
            pytest.fail(str(error), pytrace=False)
    return _BUILT[target]


def firmware_env(env):
    """Path of the ELF of a PlatformIO environment no --target names (e.g.
    qemu_m3_fixed), built on first use in this session like firmware()."""
    if env not in _BUILT:
        import os
        import shutil
        from host_tools.device import qemu_board as qb
        try:
            qb.check_tools()
            if shutil.which("pio") is None:
                raise UserError("PlatformIO not found: pip install 'microtrain[firmware]' (platformio, scons)")
            environ = dict(os.environ, PLATFORMIO_CORE_DIR=str(qb.core_dir()),
                           PLATFORMIO_SETTING_ENABLE_TELEMETRY="No")
            if not (qb.core_dir() / "packages" / "tool-scons" / "scons.py").exists():
                qb._run(["sh", str(qb.FIRMWARE_DIR / "tools" / "setup_offline.sh")], environ,
                        "firmware set-up")
            qb._run(["pio", "run", "-s", "-e", env, "-d", str(qb.FIRMWARE_DIR)], environ,
                    "firmware build (%s)" % env)
        except UserError as error:
            pytest.fail(str(error), pytrace=False)
        _BUILT[env] = qb.firmware_path(env)
    return _BUILT[env]


def boot(target, storage, stderr=subprocess.DEVNULL):
    """-> (port, QemuBoard) with the session's firmware; stderr gets its console lines."""
    from host_tools.device.qemu_board import start_qemu_board
    return start_qemu_board(target, storage, stderr=stderr, elf=firmware(target))


def client(port, seconds=20.0):
    """A BoardClient that has had its HELLO answered."""
    deadline = time.monotonic() + seconds
    while True:
        board = BoardClient(port)
        try:
            board.hello()
            return board
        except UserError:
            board.close()
            if time.monotonic() > deadline:
                raise


def train_through_host_tools(booted, work, storage, out, bundle):
    """samples, flash, monitor --start, pull on a freshly booted (port, board)
    -> (INFO, pulled npz); the board is stopped afterwards."""
    port, board = booted
    try:
        with client(port) as c:
            info = c.info
            data = np.load(work / "data.npz")
            c.upload_samples(data["x"], data["y"])
        assert main(["flash", "--port", port, str(bundle)]) == 0
        assert main(["monitor", "--port", port, "--start", "--no-live", "--csv",
                     str(storage / "log.csv"), "--png", str(storage / "log.png")]) == 0
        assert main(["pull", "--port", port, "--bundle", str(bundle), "-o", str(out)]) == 0
    finally:
        board.stop()
    return info, np.load(out)
