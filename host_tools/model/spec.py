"""Plain data describing a model, as written by the user (before graph building)."""
from dataclasses import dataclass, field


@dataclass
class OptimizerSpec:
    type: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-7          # NNTrainer's Adam default


@dataclass
class LayerSpec:
    name: str
    type: str
    props: dict = field(default_factory=dict)  # parsed property values
    input_layers: list = field(default_factory=list)
    where: str = ""  # e.g. "model.ini [conv1]" for error messages


@dataclass
class ModelSpec:
    layers: list
    loss: str = "mse"
    batch_size: int = 1
    epochs: int = 1
    micro_batch: int = 0   # samples per forward/backward pass; 0 = the whole batch
    precision: str = "float32"   # float32 | int8 | fixed (host_tools.model.model_settings)
    qas: bool = True             # int8: quantization-aware scaling of weight gradients
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    source: str = "<api>"
    lr_schedule: object = None   # host_tools.model.lr_schedule.LRSchedule; None: constant
    warnings: list = field(default_factory=list)  # keys accepted but ignored, and why
