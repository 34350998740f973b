"""Swap scheduler: exact bytes moved on hand-made cases, and random use patterns that
must either replay correctly (simulate) or report a budget that then works."""
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from host_tools.swap import (
    EVENT_DTYPE, Action, SimulationError, SwapInfeasible, TensorUse, When, schedule_swap, simulate,
)

UNLIMITED = 1 << 40


def activation(tid, size, written, *reads):
    return TensorUse(tid, size, tuple(reads), (written,), persistent=False, loaded=False)


def scheduled(uses, n_ops, budget, **options):
    schedule = schedule_swap(uses, n_ops, budget, **options)
    simulate(schedule, uses, n_ops)
    assert schedule.peak_ram_bytes <= budget
    return schedule


def moved(schedule):
    return schedule.read_bytes_per_iteration, schedule.write_bytes_per_iteration


# ---- hand-made cases ----

def test_no_swap_when_everything_fits():
    uses = [activation(0, 1000, 0, 4), activation(1, 1000, 1, 2)]
    schedule = scheduled(uses, 5, UNLIMITED)
    assert moved(schedule) == (0, 0) and schedule.events == () and schedule.flash_bytes == 0


def test_kept_activation_goes_to_flash_and_back():
    # T is produced at op 0 and needed again at op 4; A and B peak in between.
    uses = [activation(0, 1000, 0, 4), activation(1, 1000, 1, 2), activation(2, 1000, 2, 3)]
    schedule = scheduled(uses, 5, 2100)
    assert moved(schedule) == (1000, 1000)
    kinds = [(e.op, e.when, e.action, e.tensor) for e in schedule.events]
    assert kinds[0] == (0, When.AFTER, Action.WRITE, 0)
    assert kinds[-1] == (4, When.BEFORE, Action.READ_WAIT, 0)
    start = kinds[1]
    assert start[2] == Action.READ_START and 1 <= start[0] <= 4
    assert schedule.peak_ram_bytes == 2016


def test_frozen_weight_is_never_written_back():
    weight = TensorUse(0, 1000, (0, 4), (), persistent=True, loaded=False)
    uses = [weight, activation(1, 1000, 0, 4), activation(2, 1000, 2, 3)]
    schedule = scheduled(uses, 5, 2100)
    assert moved(schedule) == (2000, 0)   # read before each use, rests in flash
    assert schedule.home(0) == ("flash", schedule.flash_offsets[0])


def test_write_weight_decides_between_read_only_and_dirty():
    weight = TensorUse(0, 1000, (0, 4), (), persistent=True, loaded=False)
    uses = [weight, activation(1, 1000, 0, 4), activation(2, 1000, 2, 3)]
    cheap_writes = scheduled(uses, 5, 2100, write_weight=0.4)
    assert moved(cheap_writes) == (1000, 1000)   # the activation: 1000 + 0.4 * 1000 < 2000
    assert cheap_writes.home(0) == ("arena", cheap_writes.plan.offsets[0])


def test_trained_weight_reads_twice_writes_once():
    # forward reads W at 0, derivative at 4, the optimizer updates it in place at 5.
    weight = TensorUse(0, 1000, (0, 4, 5), (5,), persistent=True, loaded=False)
    gradient = activation(3, 16, 4, 5)
    uses = [weight, activation(1, 1000, 0, 4), activation(2, 1000, 2, 3), gradient]
    schedule = scheduled(uses, 6, 2100, pinned=[1])
    assert moved(schedule) == (2000, 1000)
    assert schedule.homes[0] == "flash"


def test_dead_values_cost_nothing():
    # D is overwritten at op 3 before being read again, so it need not exist at op 2.
    d = TensorUse(0, 1000, (1, 4), (0, 3), persistent=False, loaded=False)
    e = TensorUse(1, 2000, (), (2,), persistent=False, loaded=False)
    schedule = scheduled([d, e], 5, 2000)
    assert moved(schedule) == (0, 0)


def test_loaded_labels_used_late_move_once_each_way():
    labels = TensorUse(0, 160, (5,), (), persistent=False, loaded=True)
    uses = [labels, activation(1, 1000, 1, 2), activation(2, 1000, 2, 3), activation(3, 64, 4, 5)]
    schedule = scheduled(uses, 6, 2016)
    assert moved(schedule) == (160, 160)


def test_infeasible_budget_reports_one_that_works():
    uses = [activation(0, 1000, 0, 1), activation(1, 1000, 1, 2)]
    with pytest.raises(SwapInfeasible) as caught:
        schedule_swap(uses, 3, 1500)
    assert caught.value.operand_floor == 2016 and caught.value.min_budget == 2016
    assert "2016" in str(caught.value)
    scheduled(uses, 3, caught.value.min_budget)


def test_pinned_tensor_is_never_swapped():
    uses = [activation(0, 1000, 0, 4), activation(1, 1000, 1, 2), activation(2, 1000, 2, 3)]
    with pytest.raises(SwapInfeasible):
        schedule_swap(uses, 5, 2100, pinned=[0])


def test_events_array_matches_c_struct():
    uses = [activation(0, 1000, 0, 4), activation(1, 1000, 1, 2), activation(2, 1000, 2, 3)]
    schedule = scheduled(uses, 5, 2100)
    array = schedule.events_array()
    assert array.dtype == EVENT_DTYPE and array.dtype.itemsize == 20
    assert [tuple(row) for row in array] == [
        (e.op, e.when, e.action, e.tag, e.arena_offset, e.flash_offset, e.nbytes) for e in schedule.events]


def _trained_weight_schedule():
    weight = TensorUse(0, 1000, (0, 4, 5), (5,), persistent=True, loaded=False)
    uses = [weight, activation(1, 1000, 0, 4), activation(2, 1000, 2, 3), activation(3, 16, 4, 5)]
    return uses, scheduled(uses, 6, 2100, pinned=[1])


def _without(events, action):
    first = next(i for i, e in enumerate(events) if e.action == action)
    doomed = events[first]
    return tuple(e for i, e in enumerate(events) if i != first and not (
        action == Action.READ_START and e.action == Action.READ_WAIT and e.tag == doomed.tag
        and e.tensor == doomed.tensor))


MUTATIONS = {
    "dropped read": lambda events: _without(events, Action.READ_START),
    "dropped write-back": lambda events: _without(events, Action.WRITE),
    "write of clean data": lambda events: events + (replace(
        next(e for e in events if e.action == Action.READ_WAIT), action=Action.WRITE, when=When.AFTER, op=5),),
    "wrong flash offset": lambda events: tuple(replace(e, flash_offset=e.flash_offset + 16) for e in events),
    "wait before start": lambda events: tuple(
        replace(e, op=5) if e.action == Action.READ_START else e for e in events),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_simulate_catches_broken_schedules(mutation):
    uses, schedule = _trained_weight_schedule()
    broken = replace(schedule, events=MUTATIONS[mutation](schedule.events))
    with pytest.raises(SimulationError):
        simulate(broken, uses, 6)


# ---- random use patterns ----

SIZES = (4, 16, 40, 100, 256, 500, 1000)


@st.composite
def use_patterns(draw):
    n_ops = draw(st.integers(2, 12))
    ops = st.integers(0, n_ops - 1)
    uses = []
    for tid in range(draw(st.integers(1, 8))):
        persistent = draw(st.booleans())
        loaded = not persistent and draw(st.integers(0, 4)) == 0
        reads = tuple(sorted(set(draw(st.lists(ops, max_size=4)))))
        writes = tuple(sorted(set(draw(st.lists(ops, max_size=3)))))
        uses.append(TensorUse(tid, draw(st.sampled_from(SIZES)), reads, writes, persistent, loaded))
    return uses, n_ops


@st.composite
def training_like(draw):
    """A forward chain whose activations are read again in a mirrored backward pass,
    weights read forward and backward and updated in place, labels used at the loss."""
    layers = draw(st.integers(1, 5))
    n_ops = 4 * layers + 1
    uses, tid = [], 0
    for layer in range(layers):
        backward = n_ops - 3 * (layer + 1)      # grad, deriv, apply of this layer
        size = draw(st.sampled_from(SIZES))
        uses.append(TensorUse(tid, size, (layer + 1, backward), (layer,), False, layer == 0))
        trained = draw(st.booleans())
        weight_reads = (layer, backward + 1) + ((backward + 2,) if trained else ())
        uses.append(TensorUse(tid + 1, draw(st.sampled_from(SIZES)), weight_reads,
                              (backward + 2,) if trained else (), True, False))
        if trained:
            uses.append(TensorUse(tid + 2, 16, (backward + 2,), (backward,), False, False))
        tid += 3
    uses.append(TensorUse(tid, 16, (layers,), (), False, True))   # labels, read by the loss op
    return uses, n_ops


def check_budgets(uses, n_ops, lookahead, planner):
    full = schedule_swap(uses, n_ops, UNLIMITED, planner=planner).peak_ram_bytes
    for fraction in (1.0, 0.7, 0.5, 0.3):
        budget = int(full * fraction)
        try:
            schedule = schedule_swap(uses, n_ops, budget, planner=planner, lookahead=lookahead)
        except SwapInfeasible as error:
            assert error.min_budget > budget >= 0
            schedule = schedule_swap(uses, n_ops, error.min_budget, planner=planner, lookahead=lookahead)
            budget = error.min_budget
        simulate(schedule, uses, n_ops)
        assert schedule.peak_ram_bytes <= budget
        tags = [e.tag for e in schedule.events if e.action == Action.READ_START]
        assert schedule.max_reads_in_flight == max(tags, default=-1) + 1


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(use_patterns(), st.sampled_from([0, 1, 4]), st.sampled_from(["best", "greedy"]))
def test_random_patterns_replay_or_report_a_working_budget(pattern, lookahead, planner):
    check_budgets(*pattern, lookahead, planner)


# Found by Hypothesis: the greedy refused 184 B (and 190 B) yet reported 176 B as feasible.
FRAGMENTED_AT_184 = ([
    TensorUse(0, 100, (1, 10), (0,), False, True), TensorUse(1, 4, (0, 11), (), True, False),
    TensorUse(3, 16, (2, 7), (1,), False, False), TensorUse(4, 40, (1, 8), (), True, False),
    TensorUse(6, 40, (3, 4), (2,), False, False), TensorUse(7, 100, (2, 5), (), True, False),
    TensorUse(9, 16, (3,), (), False, True)], 13)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(training_like(), st.sampled_from([0, 2, 4]), st.sampled_from(["best", "greedy"]))
@example(FRAGMENTED_AT_184, 0, "greedy")
def test_training_like_patterns_replay_or_report_a_working_budget(pattern, lookahead, planner):
    check_budgets(*pattern, lookahead, planner)


def test_every_budget_from_the_reported_minimum_up_gets_a_schedule():
    uses, n_ops = FRAGMENTED_AT_184
    with pytest.raises(SwapInfeasible) as refused:
        schedule_swap(uses, n_ops, 160, planner="greedy", lookahead=0)
    assert refused.value.min_budget == 176
    for budget in range(176, 257, 2):
        schedule = schedule_swap(uses, n_ops, budget, planner="greedy", lookahead=0)
        simulate(schedule, uses, n_ops)
        assert schedule.peak_ram_bytes <= budget
