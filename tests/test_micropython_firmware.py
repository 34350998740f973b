"""The MicroPython firmware build's own checks, without building: a missing cross compiler
or an unknown target is one line naming what to do; the cache key follows every source the
image is built from and nothing else (build folders of a make run in place are ignored)."""

import subprocess
import sys

import pytest

from host_tools.cli import main
from host_tools.device import micropython_firmware as firmware
from host_tools.errors import UserError


def test_a_missing_cross_compiler_names_the_debian_packages(monkeypatch):
    real = firmware.shutil.which
    monkeypatch.setattr(firmware.shutil, "which",
                        lambda tool: None if tool == "arm-none-eabi-gcc" else real(tool))
    with pytest.raises(UserError) as caught:
        firmware.build("micropython-m4f")
    assert str(caught.value) == ("arm-none-eabi-gcc not found: apt-get install "
                                 "--no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi")


def test_an_unknown_target_is_refused_in_one_line():
    with pytest.raises(UserError, match=r"^unknown MicroPython target 'micropython-m0' \(choose "):
        firmware.build("micropython-m0")


def test_the_cache_key_follows_the_sources(monkeypatch, tmp_path):
    monkeypatch.setattr(firmware, "REPO_DIR", tmp_path)
    monkeypatch.setattr(firmware, "SOURCES", ((tmp_path / "port", "*"), (tmp_path / "board", "*.py")))
    (tmp_path / "port" / "build-MPS2_AN386").mkdir(parents=True)
    (tmp_path / "board").mkdir()
    (tmp_path / "port" / "main.c").write_text("int main;")
    (tmp_path / "board" / "agent.py").write_text("A = 1\n")
    first = firmware.source_hash()
    (tmp_path / "port" / "build-MPS2_AN386" / "main.o").write_bytes(b"object")
    (tmp_path / "board" / "notes.txt").write_text("not a source")
    assert firmware.source_hash() == first
    (tmp_path / "board" / "agent.py").write_text("A = 2\n")
    assert firmware.source_hash() != first


def test_board_sim_keeps_ram_limit_and_name_for_the_linux_board(capsys):
    assert main(["board-sim", "--target", "micropython-m4f", "--ram-limit", "64K"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--ram-limit and --name apply to --target linux only" in err[0]


def test_the_micropython_engine_on_cpython_is_refused_in_one_line(tmp_path):
    """board.mp_engine needs the _microtrain C module: CPython says so and exits 2."""
    done = subprocess.run([sys.executable, "-m", "board", "--port", "fd:0", "--storage", str(tmp_path),
                           "--engine", "board.mp_engine"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "_microtrain C module" in done.stderr and "board.trainer" in done.stderr, done.stderr
