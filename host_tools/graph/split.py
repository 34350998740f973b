"""NNTrainer's split layer: `split_dimension` (1 channel, 2 height, 3 width)
cut into `split_number` equal parts (default: the dimension's size, parts of
1, as NNTrainer). Consumers name output i as `layer(i)` (the bare name or the
next section means output 0). Each referenced output becomes a slice node;
the input's derivative gathers the slices' shares (NNTrainer's multiout)."""
import re

from host_tools.graph.nodes import Node


def _referenced(split, nodes):
    pattern = re.compile(rf"^{re.escape(split.name)}\((\d+)\)$")
    indices = set()
    for node in nodes:
        for name in node.inputs:
            match = pattern.match(name)
            if match:
                indices.add(int(match.group(1)))
            elif name == split.name:
                indices.add(0)
    return sorted(indices)


def split_outputs(splits, nodes):
    """One slice node per referenced output of every split layer."""
    slices = []
    for split in splits:
        for index in _referenced(split, nodes):
            props = {**split.props, "index": index}
            slices.append(Node(f"{split.name}({index})", "slice", list(split.inputs), props,
                               split.trainable, split.where))
    return slices
