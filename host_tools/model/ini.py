"""NNTrainer INI model files -> ModelSpec. Sections: [Model], [Optimizer],
[LearningRateScheduler], data sections (ignored with a warning: data comes
from --data) and one section per layer, in file order."""
from host_tools.errors import UserError
from host_tools.model import ignored_keys
from host_tools.model.ini_text import read_ini
from host_tools.model.loss_layers import fold_loss_layers
from host_tools.model.lr_schedule import parse_lr_schedule
from host_tools.model.model_settings import (parse_micro_batch, parse_model_settings,
                                             parse_optimizer, parse_precision)
from host_tools.model.properties import (canonical_key, canonical_type, parse_input_layers,
                                         parse_property)
from host_tools.model.spec import LayerSpec, ModelSpec

SETTING_SECTIONS = ("model", "optimizer", "learningratescheduler")


def _layer(section, values, where, warnings):
    if "type" not in values:
        if "backbone" in values:
            raise UserError("backbone sections are not supported", where)
        raise UserError("missing key 'type'", where)
    layer_type = canonical_type(values["type"], f"{where} type")
    props = {}
    for key, text in values.items():
        if key in ("type", "input_layers"):
            continue
        if key == "name":
            if text.strip().lower() != section:
                raise UserError(f"name={text!r} differs from the section name", where)
            continue
        if key in ignored_keys.LAYER:
            warnings.append(f"{where} {key}: ignored ({ignored_keys.LAYER[key]})")
            continue
        key = canonical_key(key)
        props[key] = parse_property(layer_type, key, text, where)
    inputs = [name.lower() for name in parse_input_layers(values.get("input_layers", ""))]
    return LayerSpec(name=section, type=layer_type, props=props, input_layers=inputs, where=where)


def _optimizer(sections, model_legacy, path):
    values = {**model_legacy, **sections.get("optimizer", {})}
    if "optimizer" in sections and "type" not in values:
        values["type"] = "adam"  # NNTrainer's default optimizer
    optimizer, schedule = parse_optimizer(values, f"{path} [Optimizer]")
    if "learningratescheduler" in sections:
        schedule = parse_lr_schedule(sections["learningratescheduler"],
                                     f"{path} [LearningRateScheduler]", optimizer.learning_rate)
    if schedule is not None:
        optimizer.learning_rate = schedule.rate(0)  # what the op records start with
    return optimizer, schedule


def load_ini(path):
    """Parses an INI model file; errors name the file, section and key."""
    sections = read_ini(path)
    if "model" not in sections:
        raise UserError("missing [Model] section", str(path))
    warnings = []
    loss, batch_size, epochs, legacy = parse_model_settings(sections["model"],
                                                            f"{path} [Model]", warnings)
    micro_batch = parse_micro_batch(sections["model"], f"{path} [Model]")
    precision = parse_precision(sections["model"].get("precision"), f"{path} [Model]")
    optimizer, schedule = _optimizer(sections, legacy, path)
    layers = []
    for name, values in sections.items():
        if name in SETTING_SECTIONS:
            continue
        if name in ignored_keys.SECTIONS:
            warnings.append(f"{path} [{name}]: ignored ({ignored_keys.SECTIONS[name]})")
            continue
        layers.append(_layer(name, values, f"{path} [{name}]", warnings))
    if not layers:
        raise UserError("no layer sections", str(path))
    return fold_loss_layers(ModelSpec(layers=layers, loss=loss, batch_size=batch_size, epochs=epochs,
                     optimizer=optimizer, source=str(path), lr_schedule=schedule,
                     warnings=warnings, micro_batch=micro_batch, precision=precision))
