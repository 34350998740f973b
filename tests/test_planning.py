"""Offset planners, lower bound and validator: exact hand cases, then properties on random lifespans."""
import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools.planning import (PLANNERS, Buffer, Plan, PlanError, align_up, lower_bound, no_reuse_bytes,
                                 plan_best, plan_greedy, plan_nntrainer, plan_optimal, plan_with, validate)
from host_tools.planning.branch_and_bound import SearchLimits
from host_tools.planning.fit import best_fit, first_fit
from host_tools.planning.ordered_placement import place_in_order, plan_from_offsets
from host_tools.planning.random_cases import dag_buffers

single = Buffer.single

# TF Lite Micro greedy_memory_planner_test.cc, "TestGreedyMedium": greedy gives 90, the bound is 80.
TFLM_MEDIUM = [single(0, 10, 0, 1), single(1, 20, 1, 2), single(2, 30, 2, 3), single(3, 40, 3, 4),
               single(4, 50, 0, 1)]
# Same file, "TestPersonDetectionModel": the 250 KB MobileNet's (size, first op, last op).
PERSON_DETECTION = [(9216, 0, 29), (3, 28, 29), (256, 27, 28), (2304, 26, 27), (2304, 25, 26), (2304, 24, 25),
                    (1152, 23, 24), (4608, 22, 23), (4608, 21, 22), (4608, 20, 21), (4608, 19, 20),
                    (4608, 18, 19), (4608, 17, 18), (4608, 16, 17), (4608, 15, 16), (4608, 14, 15),
                    (4608, 13, 14), (4608, 12, 13), (2304, 11, 12), (9216, 10, 11), (9216, 9, 10),
                    (9216, 8, 9), (4608, 7, 8), (18432, 6, 7), (18432, 5, 6), (18432, 4, 5), (9216, 3, 4),
                    (36864, 2, 3), (18432, 1, 2), (18432, 0, 1)]


# ---- contract types ---------------------------------------------------------------------------

def test_buffer_rejects_bad_residency_and_size():
    with pytest.raises(ValueError):
        Buffer(0, 16, ())
    with pytest.raises(ValueError):
        Buffer(0, 16, ((3, 2),))
    with pytest.raises(ValueError):
        Buffer(0, 16, ((0, 4), (4, 6)))      # shares op 4: not disjoint
    with pytest.raises(ValueError):
        Buffer(0, 16, ((5, 6), (0, 1)))      # not sorted
    with pytest.raises(ValueError):
        single(0, 0, 0, 1)


def test_overlaps_looks_at_every_interval_not_the_hull():
    swapped = Buffer(0, 16, ((0, 1), (6, 7)))
    assert not swapped.overlaps(single(1, 16, 2, 5))
    assert swapped.overlaps(single(2, 16, 5, 6))
    assert swapped.overlaps(Buffer(3, 16, [[1, 1], [9, 9]]))   # lists are accepted and stored as tuples
    assert single(4, 16, 3, 3).overlaps(single(5, 16, 3, 3))


def test_lower_bound_and_no_reuse_exact():
    assert lower_bound(TFLM_MEDIUM, alignment=1) == 80             # op 1: 10 + 20 + 50
    assert lower_bound(TFLM_MEDIUM) == 16 + 32 + 64                 # sizes rounded up to 16
    assert no_reuse_bytes(TFLM_MEDIUM, alignment=1) == 150
    assert no_reuse_bytes(TFLM_MEDIUM) == 16 + 32 + 32 + 48 + 64
    assert lower_bound([]) == 0
    swapped = [Buffer(0, 100, ((0, 1), (5, 6))), single(1, 60, 2, 4), single(2, 10, 1, 5)]
    assert lower_bound(swapped, alignment=1) == 110                 # op 1 or 5: 100 + 10; op 3: 70
    assert align_up(1, 16) == 16 and align_up(32, 16) == 32


def test_fit_rules_pick_first_and_tightest_gap():
    occupied = [(0, 16), (64, 80), (96, 128)]                       # gaps [16, 64) and [80, 96)
    assert first_fit(16, occupied) == 16
    assert best_fit(16, occupied) == 80
    assert first_fit(64, occupied) == 128 and best_fit(64, occupied) == 128
    assert first_fit(16, occupied, lowest=32) == 32


# ---- the reference planners reproduce their originals ---------------------------------------

def test_greedy_reproduces_tflm_medium_case():
    plan = plan_with("greedy", TFLM_MEDIUM, alignment=1)
    assert plan.offsets == {0: 50, 1: 70, 2: 40, 3: 0, 4: 0}
    assert plan.arena_bytes == 90


def test_optimal_beats_greedy_on_tflm_medium_case_and_hits_the_bound():
    assert plan_with("optimal", TFLM_MEDIUM, alignment=1).arena_bytes == 80
    assert plan_with("optimal", TFLM_MEDIUM).arena_bytes == lower_bound(TFLM_MEDIUM) == 112


def test_tflm_basic_and_overlap_cases():
    basics = [single(0, 10, 0, 1), single(1, 20, 2, 3)]
    assert plan_with("greedy", basics, alignment=1).offsets == {0: 0, 1: 0}
    overlap = [single(0, 100, 0, 1), single(1, 50, 2, 3), single(2, 20, 1, 2)]
    assert plan_with("greedy", overlap, alignment=1).arena_bytes == 120
    assert plan_with("optimal", overlap, alignment=1).arena_bytes == 120


def test_person_detection_model_reaches_the_bound():
    buffers = [single(i, size, first, last) for i, (size, first, last) in enumerate(PERSON_DETECTION)]
    assert lower_bound(buffers, alignment=1) == 64512
    assert plan_with("greedy", buffers, alignment=1).arena_bytes == 64512
    assert plan_with("optimal", buffers, alignment=1).arena_bytes == 64512
    assert no_reuse_bytes(buffers, alignment=1) == 241027


def test_nntrainer_reuses_an_expired_block_only_on_an_exact_size_match():
    same_size = [single(0, 32, 0, 1), single(1, 16, 0, 3), single(2, 32, 2, 3)]
    assert plan_with("nntrainer", same_size).offsets == {0: 0, 1: 32, 2: 0}
    other_size = [single(0, 32, 0, 1), single(1, 16, 0, 3), single(2, 48, 2, 3)]
    plan = plan_with("nntrainer", other_size)
    assert plan.offsets == {0: 0, 1: 32, 2: 48} and plan.arena_bytes == 96
    # Inclusive ends: (0, 1) and (1, 2) meet at op 1, so the whole medium case stacks up.
    assert plan_with("nntrainer", TFLM_MEDIUM, alignment=1).arena_bytes == 150


def test_multi_interval_buffers_share_bytes_across_their_gaps():
    swapped_out = Buffer(0, 64, ((0, 1), (4, 5)))   # on flash during ops 2-3
    middle = single(1, 64, 2, 3)
    for name in ("greedy", "optimal"):
        assert plan_with(name, [swapped_out, middle]).arena_bytes == 64
    # NNTrainer's stack sees the hull (0, 5), documented as safe but wasteful.
    assert plan_with("nntrainer", [swapped_out, middle]).arena_bytes == 128


# ---- the validator ---------------------------------------------------------------------------

def test_validate_rejects_a_clash_and_names_both_buffers():
    buffers = [single(7, 32, 0, 2), single(9, 32, 2, 4)]
    with pytest.raises(PlanError, match=r"7 and 9"):
        validate(buffers, Plan("bad", {7: 0, 9: 16}, 48))
    validate(buffers, Plan("ok", {7: 0, 9: 32}, 64))
    validate([single(7, 32, 0, 1), single(9, 32, 2, 4)], Plan("reuse", {7: 0, 9: 0}, 32))


def test_validate_rejects_misaligned_outside_missing_and_unknown():
    buffers = [single(3, 20, 0, 1)]
    with pytest.raises(PlanError, match=r"buffer 3.*multiple of 16"):
        validate(buffers, Plan("bad", {3: 8}, 64))
    with pytest.raises(PlanError, match=r"buffer 3.*outside"):
        validate(buffers, Plan("bad", {3: 0}, 20))       # 20 bytes occupy an aligned 32
    with pytest.raises(PlanError, match=r"no offset for buffers \[3\]"):
        validate(buffers, Plan("bad", {}, 64))
    with pytest.raises(PlanError, match=r"unknown buffers \[4\]"):
        validate(buffers, Plan("bad", {3: 0, 4: 32}, 64))
    with pytest.raises(PlanError, match="multiple"):
        validate(buffers, Plan("bad", {3: -16}, 64))


def test_validate_catches_a_clash_inside_a_later_interval():
    buffers = [Buffer(1, 16, ((0, 0), (5, 6))), single(2, 16, 6, 8)]
    with pytest.raises(PlanError, match="1 and 2"):
        validate(buffers, Plan("bad", {1: 0, 2: 0}, 16))


# ---- choosing and running planners -----------------------------------------------------------

def test_plan_with_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="no-reuse.*nntrainer.*greedy.*optimal"):
        plan_with("magic", TFLM_MEDIUM)


def test_plan_best_returns_the_smallest_and_prefers_optimal_on_ties():
    assert plan_best(TFLM_MEDIUM, alignment=1).arena_bytes == 80
    best = plan_best([single(0, 10, 0, 1), single(1, 20, 2, 3)], alignment=1)
    assert best.planner == "optimal" and best.arena_bytes == 20
    assert plan_best(TFLM_MEDIUM, alignment=1, planners=["no-reuse", "greedy"]).planner == "greedy"


def test_empty_buffer_list_plans_to_an_empty_arena():
    for name in PLANNERS:
        assert plan_with(name, []).arena_bytes == 0


def test_optimal_is_deterministic_and_stays_valid_under_a_tiny_budget():
    buffers = dag_buffers(random.Random(11), 60, swap_probability=0.3, weight_count=4)
    tiny = SearchLimits(nodes=5, work=100)
    first, again = plan_optimal(buffers, 16, tiny), plan_optimal(buffers, 16, tiny)
    assert first == again
    validate(buffers, first)
    assert first.arena_bytes <= plan_greedy(buffers).arena_bytes


# ---- properties on random lifespans ----------------------------------------------------------

def _intervals_from_points(points: list[int]) -> tuple[tuple[int, int], ...]:
    """Sorted distinct points paired up give sorted, disjoint inclusive intervals."""
    ordered = sorted(points)
    return tuple((ordered[k], ordered[k + 1]) for k in range(0, len(ordered) - 1, 2))


@st.composite
def buffer_sets(draw, max_buffers: int = 24, max_op: int = 30):
    count = draw(st.integers(0, max_buffers))
    buffers = []
    for index in range(count):
        size = draw(st.integers(1, 300))
        if draw(st.booleans()):
            start = draw(st.integers(0, max_op))
            buffers.append(single(index, size, start, draw(st.integers(start, max_op))))
        else:
            points = draw(st.lists(st.integers(0, max_op), min_size=2, max_size=6, unique=True))
            buffers.append(Buffer(index, size, _intervals_from_points(points)))
    return buffers


@st.composite
def dag_buffer_sets(draw):
    rng = draw(st.randoms(use_true_random=False))
    return dag_buffers(rng, draw(st.integers(2, 40)), draw(st.sampled_from([0.0, 0.3, 0.7])),
                       draw(st.integers(0, 3)))


def _check_every_planner(buffers: list[Buffer], alignment: int) -> None:
    plans = {name: plan_with(name, buffers, alignment) for name in PLANNERS}   # plan_with validates
    bound = lower_bound(buffers, alignment)
    for plan in plans.values():
        assert plan.arena_bytes >= bound
        assert all(offset % alignment == 0 for offset in plan.offsets.values())
    assert plans["no-reuse"].arena_bytes == no_reuse_bytes(buffers, alignment)
    assert plans["optimal"].arena_bytes <= plans["greedy"].arena_bytes
    assert plans["optimal"].arena_bytes <= plans["nntrainer"].arena_bytes
    assert plan_best(buffers, alignment).arena_bytes == plans["optimal"].arena_bytes


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(buffer_sets(), st.sampled_from([1, 4, 16]))
def test_every_planner_is_valid_on_random_lifespans(buffers, alignment):
    _check_every_planner(buffers, alignment)


@FAST
@given(dag_buffer_sets(), st.sampled_from([1, 16]))
def test_every_planner_is_valid_on_dag_lifespans(buffers, alignment):
    _check_every_planner(buffers, alignment)


@settings(max_examples=40, deadline=None)
@given(buffer_sets(max_buffers=6, max_op=8))
def test_optimal_matches_brute_force_on_small_cases(buffers):
    """First fit over every order reaches the optimum, so the brute force is exact."""
    brute_force = min(
        plan_from_offsets("all-orders", buffers, place_in_order(buffers, order, first_fit, 16), 16).arena_bytes
        for order in itertools.permutations(range(len(buffers))))
    unlimited = SearchLimits(nodes=10**7, work=10**9)
    assert plan_optimal(buffers, 16, unlimited).arena_bytes == brute_force


# ---- drawing -----------------------------------------------------------------------------------

def test_timeline_writes_a_png(tmp_path):
    from host_tools.planning.timeline import draw_timeline
    buffers = dag_buffers(random.Random(2), 12, swap_probability=0.5, weight_count=1)
    plan = plan_with("optimal", buffers)
    swapped = [buffer.id for buffer in buffers if len(buffer.intervals) > 1]
    path = tmp_path / "timeline.png"
    draw_timeline(buffers, plan, path, names={b.id: f"t{b.id}" for b in buffers}, swapped_ids=swapped,
                  title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
