"""Every argument checked at the edge: random values for every option of
every subcommand give exit 0 or exactly one error line with exit 2, never a
traceback. Commands run in-process and are aimed at a missing file, a port
that does not exist or a directory that cannot be created, so that an
accepted argument list fails fast instead of starting long work."""
import contextlib
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools.cli import SUBCOMMANDS, main

MISSING = "/nonexistent-microtrain/file"
BAD_PORT = "/dev/no-such-tty"
BAD_DIR = "/dev/null/cannot-be-a-directory"

INTS = st.integers(-2**70, 2**70).map(str)
NUMBERS = st.one_of(INTS, st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["inf", "-inf", "nan", "1e30", "0x10", "256K", "1.5M",
                                     "4G", "-0", "0", "1", "65535", "65536", "4294967295",
                                     "4294967296", "99999999999"]))
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
               max_size=300)
VALUES = st.one_of(NUMBERS, TEXT)
FLAGS = st.just(None)   # an option without a value

OPTIONS = {
    "train": ["--batch", "--planner", "--data", "--epochs", "--iterations", "--init-weights",
              "--dump-weights", "--seed", "--no-shuffle", "--log-csv", "--plot", "--quiet",
              "--ram-budget", "--lookahead", "--swap-file", "--micro-batch", "--precision",
              "--no-qas", "--no-fused-update", "--no-recompute", "--no-tiling", "--threads"],
    "plan": ["--batch", "--planner", "--ram-budget", "--lookahead", "--explain", "--json",
             "--timeline", "-o", "--data", "--epochs", "--checkpoint-every", "--seed",
             "--init-weights", "--micro-batch", "--min-ram", "--target", "--precision",
             "--no-qas", "--no-fused-update", "--no-recompute", "--no-tiling"],
    "flash": ["--port"],
    "samples": ["--port", "--bundle", "--quiet"],
    "monitor": ["--port", "--csv", "--png", "--start", "--epochs", "--checkpoint-every",
                "--idle-timeout", "--no-live"],
    "pull": ["--port", "--bundle", "-o"],
    "ports": [],
    "demo": ["--workdir", "--no-live", "--user", "--epochs", "--pretrain-epochs", "--target",
             "--precision", "--no-qas"],
    "board-sim": ["--storage", "--ram-limit", "--name", "--target"],
    "convert": ["--batch", "--micro-batch", "--planner"],
}
SWITCHES = {"--no-shuffle", "--quiet", "--explain", "--json", "--start", "--no-live", "--min-ram",
            "--no-qas", "--no-fused-update", "--no-recompute", "--no-tiling"}
# The last word wins in argparse: these make an accepted command fail fast.
TRAPS = {
    "train": [MISSING + ".ini"], "plan": [MISSING + ".ini"], "convert": [MISSING + ".ini"],
    "flash": ["--port", BAD_PORT, MISSING + ".mtb"],
    "samples": ["--port", BAD_PORT, MISSING + ".npz"],
    "monitor": ["--port", BAD_PORT], "pull": ["--port", BAD_PORT, "--bundle", MISSING],
    "ports": [], "demo": ["--workdir", BAD_DIR], "board-sim": ["--storage", BAD_DIR],
}


def test_every_subcommand_is_covered():
    assert set(OPTIONS) == {name.replace("_", "-") for name in SUBCOMMANDS}


def run_cli(argv):
    """main(argv) in-process -> (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return code, err.getvalue()


def assert_exit_0_or_one_line(code, stderr, argv):
    assert code in (0, 2), (argv, code, stderr)
    if code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "error: " in lines[0], (argv, stderr)


@st.composite
def argument_lists(draw, command):
    argv = [command]
    for flag in draw(st.lists(st.sampled_from(OPTIONS[command] or ["--help"]), max_size=5)):
        argv.append(flag)
        if flag not in SWITCHES and flag != "--help":
            argv.append(draw(VALUES))
    return argv + TRAPS[command]


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path):
    """Random relative paths land in an empty directory."""
    before = os.getcwd()
    os.chdir(tmp_path)
    yield
    os.chdir(before)


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_random_arguments_give_exit_0_or_one_line(command):
    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(argument_lists(command))
    def check(argv):
        assert_exit_0_or_one_line(*run_cli(argv), argv)
    check()


@pytest.mark.parametrize("argv, words", [
    (["plan", "m.ini", "--epochs", "-1"], "--epochs: -1 is out of range 1..65535"),
    (["plan", "m.ini", "--checkpoint-every", "-1"], "--checkpoint-every: -1 is out of range"),
    (["plan", "m.ini", "--checkpoint-every", "99999999999"], "out of range 0..4294967295"),
    (["plan", "m.ini", "--seed", "-1"], "--seed: -1 is out of range 0..4294967295"),
    (["train", "m.ini", "--batch", "0"], "--batch: 0 is out of range 1..65535"),
    (["train", "m.ini", "--ram-budget", "inf"], "--ram-budget: 'inf' must be 1 byte .. 4 GiB"),
    (["train", "m.ini", "--planner", "magic"], "invalid choice: 'magic' (choose from 'best'"),
    (["monitor", "--port", BAD_PORT, "--start", "--checkpoint-every", "-1"],
     "--checkpoint-every: -1 is out of range"),
    (["monitor", "--port", BAD_PORT, "--idle-timeout", "nan"], "--idle-timeout: 'nan' must be"),
    (["monitor", "--port", BAD_PORT, "--checkpoint-every", "5"], "--checkpoint-every needs --start"),
    (["board-sim", "--name", "x" * 230], "device names are 1..64 printable UTF-8 bytes"),
    (["demo", "--user", "-1"], "--user: -1 is out of range"),
    (["demo", "--precision", "int4"], "--precision: invalid choice: 'int4'"),
    (["demo", "--no-qas"], "--no-qas applies to int8 only"),
    (["train", "m.ini", "--precision", "half"], "--precision: invalid choice: 'half'"),
])
def test_the_reported_bad_arguments_are_one_line(argv, words):
    code, stderr = run_cli(argv)
    assert code == 2 and stderr.count("\n") == 1 and words in stderr, stderr


def test_version_is_the_installed_package_version(capsys):
    from host_tools.cli import version
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"microtrain {version()}\n"
