"""Shared by tests/test_micropython_{agent,qemu}.py: the MicroPython unix port and the QEMU
firmware built once per session (reused across sessions while their sources are unchanged;
a missing tool FAILS the test with one line naming the Debian package or MICROPY_DIR), the
agent started on them, the host's reference weights."""

import subprocess

import numpy as np
import pytest

from host_tools.cli import main
from host_tools.errors import UserError

_BUILT = {}


def built(target):
    """Unix binary or firmware ELF of `target`, built on first use in this session."""
    if target not in _BUILT:
        try:
            if target == "micropython-unix":
                from host_tools.device.micropython_unix import build_unix_port
                _BUILT[target] = build_unix_port()
            else:
                from host_tools.device.micropython_board import MicroPythonQemuBoard
                _BUILT[target] = MicroPythonQemuBoard.build(target)
        except UserError as error:
            pytest.fail(str(error), pytrace=False)
    return _BUILT[target]


def boot(target, storage, stderr=subprocess.DEVNULL, agent_options=()):
    """-> (port, board) running the session's build; stderr gets the agent's log lines."""
    from host_tools.device.micropython_board import start_micropython_board
    if target == "micropython-unix":
        return start_micropython_board(target, storage, stderr=stderr, binary=built(target),
                                       agent_options=agent_options)
    return start_micropython_board(target, storage, stderr=stderr, elf=built(target))


def host_weights(ini, npz, out, *options):
    """`microtrain train ... --dump-weights`: the reference the board must match bit for bit."""
    assert main(["train", str(ini), "--data", str(npz), "--quiet", "--dump-weights", str(out),
                 *options]) == 0
    return np.load(out)


def assert_bit_identical(expected, got):
    assert sorted(expected.files) == sorted(got.files)
    for key in expected.files:
        assert expected[key].dtype == got[key].dtype and expected[key].shape == got[key].shape
        assert expected[key].tobytes() == got[key].tobytes(), key


def board_sim_answers(target, tmp_path):
    """`microtrain board-sim --target TARGET` prints its port and the board answers HELLO there
    -> INFO; the command is then stopped with SIGTERM, as Ctrl-C would."""
    import os
    import signal
    import sys
    from pathlib import Path
    from host_tools.device.client import BoardClient
    repo = Path(__file__).resolve().parents[1]
    # The session's build, not a new one in a test's private cache: <cache>/microtrain/<build>/<file>.
    cache = built(target).parents[2]
    command = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "board-sim", "--target", target,
                                "--storage", str(tmp_path / "board")], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=dict(
                                   os.environ, PYTHONPATH=str(repo), XDG_CACHE_HOME=str(cache)))
    try:
        line = command.stdout.readline()
        assert line.startswith("board-sim: port /dev/pts/"), line
        with BoardClient(line.split()[2]) as client:
            deadline = 20
            while True:
                try:
                    return client.hello()
                except UserError:
                    deadline -= 1
                    assert deadline > 0
    finally:
        command.send_signal(signal.SIGTERM)
        command.wait(30)
