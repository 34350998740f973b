"""Collects tensors and ops while layer emitters walk the model."""
from core_cy import CONSTANTS
from host_tools.graph.tensors import Op, Tensor

FORWARD = CONSTANTS["PHASE_FORWARD"]
CALC_GRAD = CONSTANTS["PHASE_CALC_GRAD"]
CALC_DERIV = CONSTANTS["PHASE_CALC_DERIV"]
APPLY = CONSTANTS["PHASE_APPLY"]


class GraphBuilder:
    def __init__(self, batch, optimizer):
        self.batch = batch
        self.optimizer = optimizer
        self.tensors = []
        self.ops = []
        self.outputs = {}   # node name -> activation tensor id
        self.douts = {}     # node name -> derivative-of-output tensor id
        self.params = {}    # node name -> {"weight": id, ...} trainable or not
        self.grads = {}     # node name -> {"weight": grad id, ...}
        self.saved = {}     # node name -> {name: id} forward results kept for backward

    def tensor(self, name, shape, kind, **options):
        tensor = Tensor(len(self.tensors), name, tuple(shape), kind, **options)
        self.tensors.append(tensor)
        return tensor.id

    def activation(self, name, sample_shape, kind="activation", dtype="f32"):
        return self.tensor(name, (self.batch, *sample_shape), kind, dtype=dtype)

    def op(self, kind, phase, tensors, params=(), floats=(), layer=""):
        self.ops.append(Op(kind, phase, list(tensors), list(params), list(floats), layer))

    def inputs_of(self, node):
        return [self.outputs[name] for name in node.inputs]

    def parameter(self, node, key, shape, init, trainable, dtype="f32"):
        """A persistent weight-like tensor; trainable ones also get a gradient."""
        kind = "weight" if key in ("weight", "bias", "gamma", "beta") else "state"
        tid = self.tensor(f"{node.name}:{key}", shape, kind, persistent=True, init=init,
                          dtype=dtype)
        self.params.setdefault(node.name, {})[key] = tid
        if trainable and kind == "weight":
            gid = self.tensor(f"{node.name}:{key}/grad", shape, "gradient")
            self.grads.setdefault(node.name, {})[key] = gid
        return tid
