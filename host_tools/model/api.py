"""The Python API: builds the same ModelSpec an INI file gives.

    model = Model(loss="cross", batch_size=32, optimizer={"type": "adam", "learning_rate": 1e-3})
    model.add("in", "input", input_shape="1:8:8")
    model.add("fc1", "fully_connected", unit=10, activation="softmax")
"""
from host_tools.model.loss_layers import fold_loss_layers
from host_tools.model.lr_schedule import parse_lr_schedule
from host_tools.model.model_settings import (parse_micro_batch, parse_model_settings,
                                             parse_optimizer, parse_precision)
from host_tools.model.properties import (canonical_key, canonical_type, parse_input_layers,
                                         parse_property)
from host_tools.model.spec import LayerSpec, ModelSpec


class Model:
    def __init__(self, loss=None, batch_size=1, epochs=1, optimizer=None, lr_scheduler=None,
                 micro_batch=0, precision="float32", qas=True):
        self.loss, self.batch_size, self.epochs, _ = parse_model_settings(
            {"loss": loss, "batch_size": batch_size, "epochs": epochs}, "Model")
        self.micro_batch = parse_micro_batch({"micro_batch": micro_batch}, "Model")
        self.precision = parse_precision(precision, "Model")
        self.qas = bool(qas)
        self.optimizer, self.lr_schedule = parse_optimizer(dict(optimizer or {}), "Optimizer")
        if lr_scheduler is not None:
            self.lr_schedule = parse_lr_schedule(dict(lr_scheduler), "LearningRateScheduler",
                                                 self.optimizer.learning_rate)
            self.optimizer.learning_rate = self.lr_schedule.rate(0)
        self.layers = []

    def add(self, name, type, input_layers=(), **props):
        where = f"layer '{name}'"
        layer_type = canonical_type(type, where)
        parsed = {}
        for key, value in props.items():
            key = canonical_key(key)
            parsed[key] = parse_property(layer_type, key, value, where)
        self.layers.append(LayerSpec(name=name, type=layer_type, props=parsed,
                                     input_layers=parse_input_layers(input_layers), where=where))
        return self

    def spec(self):
        return fold_loss_layers(ModelSpec(
            layers=list(self.layers), loss=self.loss, batch_size=self.batch_size,
            epochs=self.epochs, optimizer=self.optimizer, lr_schedule=self.lr_schedule,
            micro_batch=self.micro_batch, precision=self.precision, qas=self.qas))
