"""`microtrain board-sim --target baremetal-*`: boots the firmware under QEMU and
prints the port; a machine without the toolchain or QEMU gets one line naming
the Debian packages, not a traceback."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from firmware_fixtures import client, firmware

REPO = Path(__file__).resolve().parents[1]


def microtrain(*args, env=None, **kwargs):
    environ = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "host_tools.cli", *args], env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_board_sim_boots_the_firmware_and_prints_its_port(tmp_path):
    firmware("baremetal-m3")   # built once per session, so board-sim finds it current
    process = microtrain("board-sim", "--target", "baremetal-m3", "--storage", str(tmp_path))
    try:
        line = process.stdout.readline()
        found = re.match(r"board-sim: port (/dev/pts/\d+)  storage (.*)$", line.rstrip("\n"))
        assert found and found.group(2) == str(tmp_path), line
        with client(found.group(1)) as board:
            assert board.info["device_name"] == "microtrain-qemu-m3"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert "board: microtrain firmware up" in err   # the firmware's console, relayed


def test_missing_toolchain_is_one_line_naming_the_debian_packages(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    process = microtrain("board-sim", "--target", "baremetal-m4f", "--storage", str(tmp_path),
                         env={"PATH": str(empty)})
    _, err = process.communicate(timeout=60)
    lines = err.strip().splitlines()
    assert process.returncode == 2 and len(lines) == 1, err
    assert lines[0] == ("microtrain: error: arm-none-eabi-gcc, qemu-system-arm not found: apt-get "
                        "install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi "
                        "qemu-system-arm")


def test_bare_metal_board_sim_refuses_linux_only_options(tmp_path):
    process = microtrain("board-sim", "--target", "baremetal-m4f", "--ram-limit", "64K")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip() == "microtrain: error: --ram-limit and --name apply to --target linux only"
