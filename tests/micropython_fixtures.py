"""Shared by the MicroPython tests: the unix port with _microtrain, built once per
session (reused across sessions while its sources are unchanged) and run on scripts.
A missing tool or package FAILS the test with one line naming what to install."""

import os
import subprocess
from pathlib import Path

import pytest

from host_tools.errors import UserError

REPO = Path(__file__).resolve().parents[1]
_BUILT = {}


def micropython_binary():
    """Path of the unix-port `micropython` with the module, built on first use."""
    if "unix" not in _BUILT:
        from host_tools.device.micropython_unix import build_unix_port
        try:
            _BUILT["unix"] = build_unix_port()
        except UserError as error:
            pytest.fail(str(error), pytrace=False)
    return _BUILT["unix"]


@pytest.fixture(scope="session")
def micropython_unix():
    """Session-scoped, so it is built before any test's monkeypatched environment."""
    return micropython_binary()


def run_micropython(binary, script, *args, heap_bytes=None, timeout=600):
    """Runs `script` with the repository importable -> CompletedProcess (text)."""
    argv = [str(binary)]
    if heap_bytes is not None:
        argv += ["-X", "heapsize=%d" % heap_bytes]
    env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (REPO, REPO / "tests"))
    return subprocess.run(argv + [str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)
