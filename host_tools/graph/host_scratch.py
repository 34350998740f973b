"""The kernels' arena scratch as training on the host (a Linux board) plans
it: GEMM-sized conv scratch (conv_scratch.py) and the FC forward's packed
operands (fc_scratch.py). Microcontroller plans keep the minimum."""
from host_tools.graph.conv_scratch import widen_conv_scratch
from host_tools.graph.fc_scratch import widen_fc_scratch


def widen_host_scratch(graph):
    """Widens every conv and FC forward scratch in place; returns the graph."""
    return widen_fc_scratch(widen_conv_scratch(graph))
