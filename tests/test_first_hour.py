"""A new user's first hour: the demo's live view in a real (pseudo-)terminal,
every runtime import declared, `ports` finding the simulator, and a README
whose synopses name every option."""
import ast
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("host_tools", "board", "protocol", "core_cy")
DISTRIBUTION = {"sklearn": "scikit-learn", "serial": "pyserial"}   # import name -> package
# Modules the MicroPython firmware provides (board/mp_*.py run there only), not pip packages.
MICROPYTHON_MODULES = {"_microtrain", "mtboard", "machine", "micropython", "vfs"}


def run_in_terminal(argv, cwd, timeout=180, columns=120, rows=40):
    """argv on a pty sized like a terminal window, TERM set -> (exit code, output)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", PYTHONPATH=str(ROOT), COLUMNS=str(columns))
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                               start_new_session=True)
    os.close(slave)
    output, deadline = bytearray(), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:     # EIO: every writer closed the pty
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        else:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"{argv} still running after {timeout} s:\n{output.decode()[-2000:]}")
        return process.wait(10), output.decode("utf-8", "replace")
    finally:
        os.close(master)


def test_demo_live_view_in_a_terminal(tmp_path):
    code, output = run_in_terminal([sys.executable, "-m", "host_tools.cli", "demo",
                                    "--workdir", "demo"], tmp_path)
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", output)
    assert code == 0, plain[-3000:]
    assert "Traceback" not in plain
    assert "RUNNING" in plain and "iteration" in plain     # the live view drew frames
    final = re.search(r"accuracy (\d+\.\d)% before personalisation, (\d+\.\d)% after", plain)
    assert final, plain[-2000:]
    # the printed figure is the pulled weights' accuracy on the user's held-out digits
    from host_tools.device.demo import Demo, evaluate
    from host_tools.device.user_data import user_data
    program = Demo(tmp_path / "demo")._plan_model()
    with np.load(tmp_path / "demo" / "personal.npz") as personal:
        after = evaluate(program, dict(personal), user_data(3))
    assert final.group(2) == f"{100 * after:.1f}"
    assert float(final.group(2)) > float(final.group(1)) + 30


def third_party_imports():
    names = set()
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(SHIPPED) - MICROPYTHON_MODULES


def test_every_runtime_import_is_a_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~ \[]", spec)[0].lower() for spec in project["dependencies"]}
    needed = {DISTRIBUTION.get(name, name).lower() for name in third_party_imports()}
    assert {"rich", "plotext", "numpy"} <= needed    # the scan sees the live view's imports
    assert needed <= declared, f"undeclared: {sorted(needed - declared)}"


def test_ports_lists_a_running_board_sim_and_forgets_it_at_exit(tmp_path):
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    cli = [sys.executable, "-m", "host_tools.cli"]
    sim = subprocess.Popen(cli + ["board-sim"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        first = sim.stdout.readline()
        port = re.search(r"port (\S+)  storage (\S+)", first)
        assert port, first
        assert not Path(port.group(2)).is_relative_to(ROOT)     # not inside the source tree
        listed = subprocess.run(cli + ["ports"], capture_output=True, text=True, env=env)
        assert re.search(rf"^{re.escape(port.group(1))} +microtrain board-sim", listed.stdout,
                         re.M), listed.stdout
        records = list((tmp_path / "microtrain").glob("board-sim-*.json"))
        assert [json.loads(r.read_text())["port"] for r in records] == [port.group(1)]
    finally:
        sim.terminate()
        sim.wait(10)
    assert not list((tmp_path / "microtrain").glob("board-sim-*.json"))
    listed = subprocess.run(cli + ["ports"], capture_output=True, text=True, env=env)
    assert "board-sim" not in listed.stdout    # this test's runtime dir held only that one


def subcommand_options():
    """(command, [the option strings of each option]) for every subcommand."""
    from host_tools.cli import _parser
    parser = _parser()
    commands = next(a for a in parser._actions if a.choices and "train" in a.choices)
    for name, sub in commands.choices.items():
        yield name, [action.option_strings for action in sub._actions
                     if action.option_strings and "--help" not in action.option_strings]


def readme_synopses(command):
    """Every README code line that starts `microtrain COMMAND`, with its continuation lines."""
    lines, text, inside = (ROOT / "README.md").read_text().splitlines(), [], False
    for line in lines:
        if re.match(rf"    microtrain {command}\b", line):
            inside = True
        elif not re.match(r"     +\S", line):   # a continuation is indented further
            inside = False
        if inside:
            text.append(line)
    return "\n".join(text)


@pytest.mark.parametrize("command, options", list(subcommand_options()))
def test_readme_synopsis_names_every_option(command, options):
    synopsis = readme_synopses(command)
    assert synopsis, f"README has no synopsis for `microtrain {command}`"
    missing = [flags for flags in options
               if not any(re.search(rf"(^|[\s\[|]){flag}\b", synopsis) for flag in flags)]
    assert not missing, f"`microtrain {command}` synopsis lacks {missing}"


def test_api_example_trains_bit_identically_to_the_ini(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    api = subprocess.run([sys.executable, ROOT / "examples" / "digits_api.py", "--epochs", "2",
                          "--dump-weights", tmp_path / "api.npz"],
                         capture_output=True, text=True, env=env, timeout=300)
    ini = subprocess.run([sys.executable, "-m", "host_tools.cli", "train",
                          ROOT / "examples" / "digits_mlp.ini", "--epochs", "2",
                          "--dump-weights", tmp_path / "ini.npz"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert api.returncode == 0 and ini.returncode == 0, api.stderr + ini.stderr
    epochs = [line for line in api.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and epochs == [line for line in ini.stdout.splitlines()
                                           if line.startswith("epoch ")]
    with np.load(tmp_path / "api.npz") as a, np.load(tmp_path / "ini.npz") as b:
        assert sorted(a.files) == sorted(b.files) and len(a.files) == 4
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key
