"""The Python API: builds the same ModelSpec an INI file gives.

    model = Model(loss="cross", batch_size=32, optimizer={"type": "adam", "learning_rate": 1e-3})
    model.add("in", "input", input_shape="1:8:8")
    model.add("fc1", "fully_connected", unit=10, activation="softmax")
"""
from host_tools.model.model_settings import (parse_micro_batch, parse_model_settings,
                                             parse_optimizer)
from host_tools.model.properties import canonical_type, parse_input_layers, parse_property
from host_tools.model.spec import LayerSpec, ModelSpec


class Model:
    def __init__(self, loss="mse", batch_size=1, epochs=1, optimizer=None, micro_batch=0):
        self.loss, self.batch_size, self.epochs = parse_model_settings(
            {"loss": loss, "batch_size": batch_size, "epochs": epochs}, "Model")
        self.micro_batch = parse_micro_batch({"micro_batch": micro_batch}, "Model")
        self.optimizer = parse_optimizer(dict(optimizer or {}), "Optimizer")
        self.layers = []

    def add(self, name, type, input_layers=(), **props):
        where = f"layer '{name}'"
        layer_type = canonical_type(type, where)
        parsed = {key: parse_property(layer_type, key, value, where) for key, value in props.items()}
        self.layers.append(LayerSpec(name=name, type=layer_type, props=parsed,
                                     input_layers=parse_input_layers(input_layers), where=where))
        return self

    def spec(self):
        return ModelSpec(layers=list(self.layers), loss=self.loss, batch_size=self.batch_size,
                         epochs=self.epochs, optimizer=self.optimizer,
                         micro_batch=self.micro_batch)
