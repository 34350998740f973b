"""Memory figures of a planned program: the lower bound, the no-reuse size a
framework without a planner would need, and every planner's arena.

One definition each, used by every command: "ops" are the ops the executor
runs (after in-place rewriting and views, `len(program.graph.ops)`);
"no-reuse" is every buffer of those ops in its own bytes, i.e. the arena of
the `no-reuse` planner."""
from host_tools.planning import PLANNERS, lower_bound, plan_with
from host_tools.program import ALIGNMENT, graph_buffers


def op_count(program):
    """The ops the executor runs (the one op count every command prints)."""
    return len(program.graph.ops)


def memory_figures(program, unshared_graph, ram_budget=None, swap=None):
    """One dict with what `plan --json` prints (see README)."""
    buffers = program.buffers if swap is None else graph_buffers(program.graph)
    planners = {name: plan_with(name, buffers, ALIGNMENT).arena_bytes for name in PLANNERS}
    bound = lower_bound(buffers, ALIGNMENT)
    arena = program.arena_bytes
    return {
        "model": str(unshared_graph.spec.source),
        "batch": program.graph.batch,
        "ops": op_count(program),
        "lower_bound_bytes": bound,
        "no_reuse_bytes": planners["no-reuse"],
        "planner_arena_bytes": planners,
        "planner": program.plan.planner,
        "arena_bytes": arena,
        "unswapped_arena_bytes": program.unswapped_arena_bytes or arena,
        "ram_budget_bytes": ram_budget,
        # the schedule replays once per micro-batch pass
        "swap_read_bytes_per_iteration":
            swap.read_bytes_per_iteration * program.graph.micro_batches if swap else 0,
        "swap_write_bytes_per_iteration":
            swap.write_bytes_per_iteration * program.graph.micro_batches if swap else 0,
        "flash_bytes": swap.flash_bytes if swap else 0,
        "peak_ram_bytes": swap.peak_ram_bytes if swap else arena,
    }


def format_figures(figures):
    bound = figures["lower_bound_bytes"]
    lines = [f"model {figures['model']}  batch {figures['batch']}  {figures['ops']} ops",
             f"  {'lower bound':<20} {bound:>14,} B",
             f"  {'no-reuse':<20} {figures['no_reuse_bytes']:>14,} B  "
             f"{figures['no_reuse_bytes'] / max(figures['unswapped_arena_bytes'], 1):.2f}x "
             f"the planned arena (every buffer in its own bytes)",
             "", f"  {'planner':<20} {'arena bytes':>14}  {'/ lower bound':>13}"]
    for name, size in figures["planner_arena_bytes"].items():
        mark = "  <- chosen" if name == figures["planner"] else ""
        lines.append(f"  {name:<20} {size:>14,}  {size / max(bound, 1):>12.4f}x{mark}")
    if figures["ram_budget_bytes"] is not None:
        lines += ["", f"  ram budget {figures['ram_budget_bytes']:,} B: arena "
                      f"{figures['arena_bytes']:,} B, peak RAM {figures['peak_ram_bytes']:,} B, "
                      f"flash {figures['flash_bytes']:,} B",
                  f"  swap per iteration: read {figures['swap_read_bytes_per_iteration']:,} B, "
                  f"write {figures['swap_write_bytes_per_iteration']:,} B"]
    return "\n".join(lines)
