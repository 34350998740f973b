"""`microtrain plan`: the report, JSON, timeline, bundle and RAM-budget errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core_cy import read_bundle

ROOT = Path(__file__).resolve().parents[1]
MOBILENET = ROOT / "bench" / "zoo" / "mobilenet.ini"
JSON_KEYS = {"lower_bound_bytes", "no_reuse_bytes", "arena_bytes", "planner", "ram_budget_bytes",
             "swap_read_bytes_per_iteration", "swap_write_bytes_per_iteration", "peak_ram_bytes"}


def plan(*args):
    return subprocess.run([sys.executable, "-m", "host_tools.cli", "plan", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_json_without_budget_reports_the_plan_at_the_lower_bound():
    result = plan(MOBILENET, "--batch", "2", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert JSON_KEYS <= set(figures)
    assert figures["arena_bytes"] == figures["lower_bound_bytes"]  # ours reaches the bound
    assert figures["no_reuse_bytes"] > figures["arena_bytes"]
    assert figures["swap_read_bytes_per_iteration"] == 0
    assert figures["peak_ram_bytes"] == figures["arena_bytes"]


def test_budget_swaps_writes_timeline_and_bundle(tmp_path):
    unswapped = json.loads(plan(MOBILENET, "--batch", "2", "--json").stdout)
    budget = unswapped["arena_bytes"] // 2
    bundle, png = tmp_path / "m.mtb", tmp_path / "m.png"
    result = plan(MOBILENET, "--batch", "2", "--json", "--ram-budget", budget,
                  "--timeline", png, "-o", bundle)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["ram_budget_bytes"] == budget
    assert figures["peak_ram_bytes"] <= budget
    assert figures["swap_read_bytes_per_iteration"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    view = read_bundle(bundle.read_bytes())
    assert view.arena_bytes == figures["arena_bytes"]
    assert view.swap_events is not None and len(view.swap_events) > 0


@pytest.mark.parametrize("budget", ["1000", "64K"])
def test_infeasible_budget_is_one_line_with_the_smallest_budget(budget):
    result = plan(MOBILENET, "--batch", "2", "--ram-budget", budget)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "smallest feasible budget is" in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_planner_is_a_user_error():
    result = plan(MOBILENET, "--planner", "magic")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--planner: invalid choice: 'magic'" in lines[0]
    assert "'best'" in lines[0]  # every valid name is offered, the default too
