"""A normalized layer: activations split out, inputs resolved, shape known."""
from dataclasses import dataclass, field


@dataclass
class Node:
    name: str
    type: str
    inputs: list                   # names of producer nodes
    props: dict = field(default_factory=dict)
    trainable: bool = True
    where: str = ""
    shape: tuple = ()              # per-sample output shape: (C, H, W) or (F,)
    in_shapes: list = field(default_factory=list)


def numel(shape):
    count = 1
    for dim in shape:
        count *= dim
    return count
