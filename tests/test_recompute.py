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
from host_tools.graph.fused_update import fuse_updates
from host_tools.graph.recompute import candidates, recompute
from host_tools.graph.training_graph import build_training_graph
from host_tools.planning.cost_model import step_seconds, time_factor
from host_tools.planning.min_ram import find_min_ram
from host_tools.planning.recompute_plan import for_budget, for_min_ram
from host_tools.program import build_program
from test_min_ram import assert_same_training, assert_within, random_model


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_budget_from_the_joint_min_ram_up_fits_and_trains_bit_identically(data):
    spec = random_model(data.draw)
    plain = build_training_graph(spec)
    graph = build_training_graph(spec)
    fuse_updates(graph)
    graph = for_min_ram(graph).graph
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


def test_plan_json_reports_recompute_and_its_switch(capsys):
    args = ["plan", "bench/zoo/digits_small.ini", "--micro-batch", "1", "--min-ram", "--json"]
    assert main(args) == 0
    on = json.loads(capsys.readouterr().out)
    assert main([*args, "--no-recompute"]) == 0
    off = json.loads(capsys.readouterr().out)
    assert on["recomputed_tensors"] and on["recompute_ops_per_iteration"] == 32 * len(
        on["recomputed_tensors"])
    assert off["recomputed_tensors"] == [] and off["recompute_ops_per_iteration"] == 0
    assert on["min_ram_bytes"] <= off["min_ram_bytes"]
    assert on["estimated_time_factor"] > 1 and off["estimated_time_factor"] > 1
