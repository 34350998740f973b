"""The planner's per-target cost tables (host_tools/planning/targets/*.json,
measured by bench/cost_tables.py): complete, positive, saying how they were
measured, and ranking swap as the cost it is on every target."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.cli.common import build_graph
from host_tools.model.load import load_model
from host_tools.planning.cost_model import compute_seconds, step_seconds, swap_seconds
from host_tools.planning.targets import COST_TARGETS, HERE, target_costs
from host_tools.program import build_program

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.cost_tables import (check_table, kernel_call, kernel_call_by_load,  # noqa: E402
                               mark_differences)
from firmware_fixtures import firmware  # noqa: E402

FIGURES = ("flash_read_bytes_per_s", "flash_write_bytes_per_s", "flash_latency_s",
           "macs_per_s", "elements_per_s")


def test_the_three_targets_of_issue_11_have_tables():
    assert COST_TARGETS == ("baremetal-m4f", "host", "micropython")


@pytest.mark.parametrize("target", COST_TARGETS)
def test_every_figure_is_positive_and_finite(target):
    table = json.loads((HERE / f"{target}.json").read_text())
    assert sorted(table) == sorted(FIGURES + ("description",))
    for key in FIGURES:
        assert isinstance(table[key], float) and math.isfinite(table[key]) and table[key] > 0, key


@pytest.mark.parametrize("target", COST_TARGETS)
def test_the_description_says_it_was_measured_and_how(target):
    description = target_costs(target)["description"]
    assert "measured 20" in description and "by bench/cost_tables.py" in description
    if target != "host":  # instruction counts become seconds only through stated assumptions
        assert "MHz" in description and "cycles per instruction" in description
        assert "datasheet" in description and "W25Q128JV" in description


def swapped_and_plain(batch=8):
    """The digits CNN planned without a budget and at half its arena (swap-heavy)."""
    spec = load_model(REPO / "examples" / "digits_cnn.ini")
    spec.batch_size = batch
    graph = build_graph(spec)
    plain = build_program(graph)
    return build_program(graph, ram_budget=plain.arena_bytes // 2), plain


@pytest.mark.parametrize("target", COST_TARGETS)
def test_a_swap_heavy_plan_costs_more_than_a_swap_free_one(target):
    swapped, plain = swapped_and_plain()
    assert plain.swap is None and swapped.swap.read_bytes_per_iteration > 0
    costs = target_costs(target)
    # same ops, so the same compute: the difference is the flash traffic alone
    assert compute_seconds(swapped.graph, costs) == compute_seconds(plain.graph, costs)
    assert swap_seconds(swapped.swap, costs, 1) > 0
    assert step_seconds(swapped, target) > step_seconds(plain, target)


def test_flash_costs_more_per_byte_on_the_boards_than_on_the_host():
    swapped, _ = swapped_and_plain()
    host = swap_seconds(swapped.swap, target_costs("host"), 1)
    for board in ("baremetal-m4f", "micropython"):
        assert swap_seconds(swapped.swap, target_costs(board), 1) > 100 * host, board


def test_a_table_with_a_missing_or_non_positive_figure_is_refused():
    good = {key: 1.0 for key in FIGURES}
    check_table("ok", good)
    for key, bad in (("macs_per_s", 0.0), ("flash_latency_s", float("nan")),
                     ("elements_per_s", -1.0)):
        with pytest.raises(SystemExit, match=key):
            check_table("t", dict(good, **{key: bad}))
    with pytest.raises(SystemExit, match="flash_read_bytes_per_s"):
        check_table("t", {k: v for k, v in good.items() if k != "flash_read_bytes_per_s"})


def test_mark_pairs_become_differences_and_unpaired_marks_are_dropped():
    marks = [("start", 10), ("stop", 25), ("start", 30), ("stop", 31), ("end", 99)]
    assert mark_differences(marks) == [15, 1]


def test_the_kernel_call_found_without_debug_lines_is_the_one_the_line_table_names():
    """The MicroPython module has no line table: the fallback (the blx of the register
    loaded from mt_op_info.run) must find the call the bare-metal ELF's line table
    puts at `info->run(...)`."""
    elf = firmware("baremetal-m4f")
    assert kernel_call_by_load(elf) == kernel_call(elf)


def test_the_host_table_is_measured_by_the_bench_in_seconds():
    """`--targets host` measures and prints every figure (not written back)."""
    before = (HERE / "host.json").read_bytes()
    done = subprocess.run([sys.executable, str(REPO / "bench" / "cost_tables.py"), "--targets", "host"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    for key in FIGURES:
        value = float(next(line.split()[1] for line in done.stdout.splitlines()
                           if line.split()[:1] == [key]))
        assert value > 0 and math.isfinite(value), key
    assert (HERE / "host.json").read_bytes() == before


def test_an_unknown_target_is_one_line_and_status_2():
    done = subprocess.run([sys.executable, str(REPO / "bench" / "cost_tables.py"), "--targets", "m7"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "unknown target m7" in done.stderr
