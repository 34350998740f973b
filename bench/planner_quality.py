"""How close each planner gets to the lower bound on random graph-shaped buffer sets.

Usage: PYTHONPATH=. python bench/planner_quality.py [--cases 200] [--seed 0] [--max-ops 300]
Every plan is validated; arena / lower bound is reported per planner (1.000 = provably optimal).
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from host_tools.planning import PLANNERS, lower_bound, plan_with
from host_tools.planning.random_cases import dag_buffers


def make_cases(count: int, seed: int, max_ops: int) -> list[list]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        op_count = rng.randint(10, max_ops)
        swap_probability = rng.choice((0.0, 0.0, 0.3))   # a third of the cases carry swapped tensors
        cases.append(dag_buffers(rng, op_count, swap_probability, weight_count=rng.randint(0, op_count // 10)))
    return cases


def measure(cases: list[list], alignment: int) -> dict[str, dict[str, list[float]]]:
    results = {name: {"ratio": [], "seconds": []} for name in PLANNERS}
    for buffers in cases:
        bound = lower_bound(buffers, alignment)
        for name in PLANNERS:
            started = time.perf_counter()
            plan = plan_with(name, buffers, alignment)
            results[name]["seconds"].append(time.perf_counter() - started)
            results[name]["ratio"].append(plan.arena_bytes / bound)
    return results


def report(results: dict[str, dict[str, list[float]]], cases: list[list]) -> None:
    sizes = [len(buffers) for buffers in cases]
    print(f"{len(cases)} cases, {min(sizes)}-{max(sizes)} buffers (mean {statistics.mean(sizes):.0f})")
    print(f"{'planner':<10} {'mean arena/LB':>13} {'worst':>7} {'at LB':>6} {'mean ms':>8} {'max ms':>8}")
    for name, series in results.items():
        ratios, seconds = series["ratio"], series["seconds"]
        at_bound = sum(ratio == 1.0 for ratio in ratios)
        print(f"{name:<10} {statistics.mean(ratios):>13.4f} {max(ratios):>7.4f} {at_bound:>6} "
              f"{1000 * statistics.mean(seconds):>8.1f} {1000 * max(seconds):>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-ops", type=int, default=300)
    parser.add_argument("--alignment", type=int, default=16)
    args = parser.parse_args()
    cases = make_cases(args.cases, args.seed, args.max_ops)
    report(measure(cases, args.alignment), cases)


if __name__ == "__main__":
    main()
