"""Memory map of a plan: op index across, arena offset up, one rectangle per residency interval."""
from __future__ import annotations

from typing import Collection, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only: planning runs on build hosts without a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from .buffers import Buffer, Plan, lower_bound  # noqa: E402

_MIN_LABEL_FRACTION = 0.035   # label a rectangle only if it is this tall relative to the arena


# How a tensor is marked: swapped to flash, or a recomputed copy made in backward.
HATCHES = {"swapped": "///", "recomputed": "xx", "swapped+recomputed": "///xx", "tiled": ".."}


def _hatch(mark):
    """A combined mark ("swapped+tiled") draws every part's hatch."""
    return "".join(HATCHES[part] for part in mark.split("+")) if mark else None


def _draw_buffer(axes, buffer: Buffer, offset: int, color, mark: str | None, label: str | None,
                 arena: int) -> None:
    for first, last in buffer.intervals:
        axes.add_patch(Rectangle((first - 0.5, offset), last - first + 1, buffer.size, facecolor=color,
                                 edgecolor="black", linewidth=0.5, hatch=_hatch(mark),
                                 alpha=0.85))
    # A dotted line through the gaps shows that the bytes stay reserved while the tensor is on flash.
    for (_, previous_last), (next_first, _) in zip(buffer.intervals, buffer.intervals[1:]):
        middle = offset + buffer.size / 2
        axes.plot([previous_last + 0.5, next_first - 0.5], [middle, middle], ":", color=color, linewidth=1)
    if label and buffer.size >= _MIN_LABEL_FRACTION * arena:
        first, last = buffer.intervals[0]
        axes.text((first + last) / 2, offset + buffer.size / 2, label, ha="center", va="center", fontsize=6,
                  clip_on=True)


def _draw_levels(axes, bound: int, arena: int) -> list:
    axes.axhline(bound, color="tab:green", linestyle="--", linewidth=1.2)
    axes.axhline(arena, color="tab:red", linestyle="-", linewidth=1.2)
    return [plt.Line2D([], [], color="tab:green", linestyle="--", label=f"lower bound {bound:,} B"),
            plt.Line2D([], [], color="tab:red", label=f"arena ({arena:,} B)")]


def draw_timeline(buffers: Sequence[Buffer], plan: Plan, path, names: Mapping[int, str] | None = None,
                  swapped_ids: Collection[int] = (), title: str = "", alignment: int = 16,
                  recomputed_ids: Collection[int] = (), tiled_ids: Collection[int] = ()) -> None:
    """Write a PNG (or any format matplotlib infers from `path`) of the plan's memory map.
    Swapped tensors are hatched ///, recomputed copies xx, chunks of tiled tensors .."""
    names = names or {}
    marks = (("swapped", set(swapped_ids)), ("recomputed", set(recomputed_ids)),
             ("tiled", set(tiled_ids)))
    figure, axes = plt.subplots(figsize=(11, 6))
    colors = plt.get_cmap("tab20")
    for index, buffer in enumerate(sorted(buffers, key=lambda b: b.id)):
        label = names.get(buffer.id, str(buffer.id))
        mark = "+".join(m for m, ids in marks if buffer.id in ids) or None
        _draw_buffer(axes, buffer, plan.offsets[buffer.id], colors(index % 20), mark, label,
                     plan.arena_bytes)
    # Rectangles show the bytes a tensor uses; the bound counts aligned sizes, like the arena.
    handles = _draw_levels(axes, lower_bound(buffers, alignment), plan.arena_bytes)
    for mark, ids in marks:
        if ids:
            handles.append(Patch(facecolor="white", edgecolor="black", hatch=HATCHES[mark],
                                 label=f"{mark} tensor"))
    first_op = min((buffer.start for buffer in buffers), default=0)
    last_op = max((buffer.end for buffer in buffers), default=0)
    axes.set_xlim(first_op - 0.5, last_op + 0.5)
    axes.set_ylim(0, max(plan.arena_bytes, 1) * 1.06)
    axes.set_xlabel("op index (execution order)")
    axes.set_ylabel("arena offset (bytes)")
    axes.set_title(title or f"{plan.planner}: {len(buffers)} buffers, arena {plan.arena_bytes:,} B")
    # Outside the axes so it never hides the top of the arena, where the peak is.
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
