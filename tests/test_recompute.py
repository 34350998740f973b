"""Recomputation planned with swap (issue 11): re-inserted forward ops give the
same bits as the kept tensors, and over random model DAGs every budget from
the min RAM the planner reports (fused update + recompute + swap) up to the
arena schedules within the budget (independent replay) and trains bit for bit
as the plain graph without a budget."""
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools.cli import main
from host_tools.graph.recompute import candidates, recompute
from host_tools.graph.training_graph import build_training_graph
from host_tools.planning.cost_model import step_seconds, time_factor
from host_tools.planning.min_ram import find_min_ram
from host_tools.planning.recompute_plan import for_budget
from host_tools.planning.techniques import apply_techniques
from host_tools.program import build_program
from test_min_ram import assert_same_training, assert_within, random_model


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_recomputing_every_candidate_trains_bit_identically(data):
    spec = random_model(data.draw)
    plain = build_training_graph(spec)
    found = candidates(plain)
    rewritten, ids = recompute(plain, found)
    assert len(rewritten.ops) == len(plain.ops) + len(found)
    recomputed_ops = rewritten.ops[:]
    assert all(op.phase != 0 for op in recomputed_ops if op.layer.endswith("/recompute"))
    for op in rewritten.ops:   # backward reads the copies only
        if op.phase != 0 and not op.layer.endswith("/recompute"):
            assert not set(ids) & set(op.tensors), op
    assert_same_training(plain, build_program(rewritten))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_budget_from_the_joint_min_ram_up_fits_and_trains_bit_identically(data):
    spec = random_model(data.draw)
    plain = build_training_graph(spec)
    graph = apply_techniques(build_training_graph(spec))
    found = find_min_ram(graph)
    assert_within(found.program, found.min_ram_bytes)
    assert found.min_ram_bytes <= find_min_ram(plain).min_ram_bytes
    arena = build_program(graph).arena_bytes
    budget = data.draw(st.integers(found.min_ram_bytes, max(found.min_ram_bytes, arena)))
    program = build_program(graph, ram_budget=budget)
    assert_within(program, budget)
    assert_same_training(plain, program)


def digits_cnn(micro=1):
    from host_tools.model.load import load_model
    spec = load_model("bench/zoo/digits_small.ini")
    spec.micro_batch = micro
    return build_training_graph(spec)


def test_the_budget_choice_never_estimates_slower_than_no_recompute():
    graph = digits_cnn(4)
    budget = find_min_ram(graph).min_ram_bytes + 2048
    choice = for_budget(graph, budget)
    chosen = step_seconds(build_program(choice.graph, ram_budget=budget))
    assert chosen <= step_seconds(build_program(graph, ram_budget=budget))


def test_time_factor_counts_flash_traffic_on_the_slow_target():
    graph = digits_cnn(1)
    program = find_min_ram(graph).program
    assert time_factor(program, graph, "baremetal-m4f") > time_factor(program, graph, "host") > 1


BUDGET_ARGS = ["bench/zoo/digits_small.ini", "--micro-batch", "8", "--ram-budget", "46008"]


def test_plan_json_reports_recompute_and_its_switch(capsys):
    """At this budget recomputing the ReLU output beats swapping it (host cost table)."""
    assert main(["plan", *BUDGET_ARGS, "--json"]) == 0
    on = json.loads(capsys.readouterr().out)
    assert main(["plan", *BUDGET_ARGS, "--json", "--no-recompute"]) == 0
    off = json.loads(capsys.readouterr().out)
    assert on["recomputed_tensors"] == ["conv/activation:output"]
    assert on["recompute_ops_per_iteration"] == 4     # once per micro-batch pass
    assert off["recomputed_tensors"] == [] and off["recompute_ops_per_iteration"] == 0
    assert 1 < on["estimated_time_factor"] < off["estimated_time_factor"]
    assert on["peak_ram_bytes"] <= 46008


def test_train_with_every_technique_equals_training_without_a_budget(tmp_path):
    common = ["--data", "digits", "--iterations", "3", "--seed", "2", "--quiet", "--no-shuffle"]
    assert main(["train", *BUDGET_ARGS, *common, "--dump-weights", str(tmp_path / "b.npz"),
                 "--swap-file", str(tmp_path / "flash.bin")]) == 0
    assert main(["train", *BUDGET_ARGS[:3], *common, "--dump-weights", str(tmp_path / "p.npz")]) == 0
    budget, plain = np.load(tmp_path / "b.npz"), np.load(tmp_path / "p.npz")
    assert sorted(budget.files) == sorted(plain.files)
    for key in plain.files:
        assert budget[key].tobytes() == plain[key].tobytes(), key


def test_timeline_marks_recomputed_tensors(tmp_path, monkeypatch):
    import host_tools.planning.timeline as timeline
    marks = []
    original = timeline._draw_buffer
    monkeypatch.setattr(timeline, "_draw_buffer",
                        lambda axes, buffer, offset, color, mark, *rest: (
                            marks.append(mark), original(axes, buffer, offset, color, mark, *rest)))
    out = tmp_path / "t.png"
    assert main(["plan", *BUDGET_ARGS, "--timeline", str(out)]) == 0
    assert out.stat().st_size > 0 and "swapped" in marks
    assert {"recomputed", "swapped+recomputed"} & set(marks)
