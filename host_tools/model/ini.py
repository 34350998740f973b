"""NNTrainer-style INI model files -> ModelSpec."""
import configparser
from pathlib import Path

from host_tools.errors import UserError
from host_tools.model.model_settings import (parse_micro_batch, parse_model_settings,
                                             parse_optimizer)
from host_tools.model.properties import canonical_type, parse_input_layers, parse_property
from host_tools.model.spec import LayerSpec, ModelSpec

SETTING_SECTIONS = {"model", "optimizer"}


def _read_config(path):
    parser = configparser.ConfigParser(interpolation=None, strict=True,
                                       inline_comment_prefixes=("#", ";"))
    parser.optionxform = lambda key: key.strip().lower()
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise UserError(f"cannot read model file: {error.strerror}", str(path)) from None
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as error:
        first_line = str(error).splitlines()[0]
        raise UserError(f"not a valid INI file: {first_line}", str(path)) from None
    return parser


def _layer(section, values, where):
    if "type" not in values:
        raise UserError("missing key 'type'", where)
    layer_type = canonical_type(values["type"], f"{where} type")
    props = {}
    for key, text in values.items():
        if key in ("type", "input_layers", "name"):
            continue
        props[key] = parse_property(layer_type, key, text, where)
    inputs = parse_input_layers(values.get("input_layers", ""))
    return LayerSpec(name=section, type=layer_type, props=props, input_layers=inputs, where=where)


def load_ini(path):
    """Parses an INI model file; errors name the file, section and key."""
    config = _read_config(path)
    sections = {name.lower(): name for name in config.sections()}
    if "model" not in sections:
        raise UserError("missing [Model] section", str(path))
    model_where = f"{path} [{sections['model']}]"
    loss, batch_size, epochs = parse_model_settings(dict(config[sections["model"]]), model_where)
    micro_batch = parse_micro_batch(dict(config[sections["model"]]), model_where)
    optimizer = parse_optimizer(dict(config[sections["optimizer"]]),
                                f"{path} [{sections['optimizer']}]") \
        if "optimizer" in sections else parse_optimizer({}, str(path))
    layers = [_layer(name, dict(config[name]), f"{path} [{name}]")
              for name in config.sections() if name.lower() not in SETTING_SECTIONS]
    if not layers:
        raise UserError("no layer sections", str(path))
    return ModelSpec(layers=layers, loss=loss, batch_size=batch_size, epochs=epochs,
                     optimizer=optimizer, source=str(path), micro_batch=micro_batch)
