"""Long memory searches show what they do on stderr (tqdm), only on a terminal
or when MICROTRAIN_PROGRESS=1 forces it; `--json` stdout stays one object."""
import json

from host_tools.cli import main
from host_tools.swap import schedule

ARGS = ["plan", "bench/zoo/digits_small.ini", "--min-ram", "--micro-batch", "1", "--json"]


def test_min_ram_progress_goes_to_stderr_only_when_forced(capsys, monkeypatch):
    monkeypatch.delenv("MICROTRAIN_PROGRESS", raising=False)
    assert main(ARGS) == 0
    quiet = capsys.readouterr()
    assert quiet.err == ""   # stderr is no terminal here
    monkeypatch.setenv("MICROTRAIN_PROGRESS", "1")
    assert main(ARGS) == 0
    shown = capsys.readouterr()
    assert json.loads(shown.out) == json.loads(quiet.out)
    for label in ("memory techniques", "tiling trials", "recompute candidates"):
        assert label in shown.err, label


def test_a_budget_search_shows_its_swap_probes(capsys, monkeypatch):
    monkeypatch.setenv("MICROTRAIN_PROGRESS", "1")
    # an earlier test in this process may have searched the same graph: start unremembered
    monkeypatch.setattr(schedule, "_smallest_found", {})
    # 1 KB is infeasible: the error quotes the smallest budget, found by bisection
    assert main(["plan", "examples/digits_cnn.ini", "--ram-budget", "1K", "--no-tiling",
                 "--no-recompute", "--no-fused-update"]) != 0
    err = capsys.readouterr().err
    assert "smallest RAM of" in err and "probe" in err
