"""Layer properties: which keys each layer type takes and how their text parses.

One table serves both front ends: the INI reader parses strings through it,
the Python API passes values through the same parsers, so both give equal specs."""
from host_tools.errors import UserError

WEIGHTED = {"weight_initializer", "bias_initializer", "weight_regularizer",
            "weight_regularizer_constant", "weight_decay", "bias_decay", "disable_bias",
            "activation"}
LAYER_TYPES = {
    "input": {"input_shape"},
    "fully_connected": {"unit"} | WEIGHTED,
    "conv2d": {"filters", "kernel_size", "stride", "padding"} | WEIGHTED,
    "conv1d": {"filters", "kernel_size", "stride", "padding"} | WEIGHTED,
    "depthwise_conv2d": {"kernel_size", "stride", "padding", "depth_multiplier"} | WEIGHTED,
    "pooling2d": {"pooling", "pool_size", "stride", "padding"},
    "flatten": set(),
    "reshape": {"target_shape"},
    "activation": {"activation"},
    "batch_normalization": {"momentum", "epsilon", "activation", "beta_initializer",
                            "gamma_initializer", "moving_mean_initializer",
                            "moving_variance_initializer"},
    "addition": {"activation"},
    "dropout": {"dropout_rate"},
    "identity": set(),
    "subtract": set(),
    "concat": {"axis"},
    "split": {"split_dimension", "split_number"},
    "layer_normalization": {"axis", "epsilon", "gamma_initializer", "beta_initializer",
                            "weight_decay", "bias_decay"},
    "permute": {"direction"},
    "upsample2d": {"upsample", "kernel_size"},
    "multiply": set(),
}
LOSS_LAYERS = ("mse", "cross", "cross_softmax", "cross_sigmoid")
COMMON_KEYS = {"input_shape", "trainable", "flatten"}
ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "leaky_relu", "swish", "gelu", "none")
POOLINGS = ("max", "average", "global_average")
INITIALIZERS = ("zeros", "ones", "lecun_normal", "lecun_uniform", "xavier_normal",
                "xavier_uniform", "he_normal", "he_uniform")
ALIASES = {"layernorm": "layer_normalization", "fc": "fully_connected", "dense": "fully_connected", "conv2d": "conv2d",
           "bn": "batch_normalization", "batchnorm": "batch_normalization",
           "pooling": "pooling2d", "add": "addition", "act": "activation",
           "multiout": "identity", "output": "identity"}
KEY_ALIASES = {"dropout": "dropout_rate"}  # NNTrainer's documented name for the rate


def canonical_type(type_name, where):
    """Layer type in our naming; loss layer types (mse, cross_*) pass through."""
    name = ALIASES.get(str(type_name).strip().lower(), str(type_name).strip().lower())
    if name not in LAYER_TYPES and name not in LOSS_LAYERS:
        supported = sorted(set(LAYER_TYPES) | set(LOSS_LAYERS))
        raise UserError(f"unsupported layer type {str(type_name).strip()} "
                        f"(supported: {', '.join(supported)})", where)
    return name


def _int(text, key, where, minimum=1):
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UserError(f"{key}={text!r} is not an integer", where) from None
    if value < minimum:
        raise UserError(f"{key}={value} must be >= {minimum}", where)
    return value


def _float(text, key, where):
    try:
        return float(str(text).strip())
    except ValueError:
        raise UserError(f"{key}={text!r} is not a number", where) from None


def _bool(text, key, where):
    word = str(text).strip().lower()
    if word in ("true", "1", "yes", "on"):
        return True
    if word in ("false", "0", "no", "off"):
        return False
    raise UserError(f"{key}={text!r} is not true/false", where)


def _pair(text, key, where, minimum=1):
    """'3' -> (3, 3); '3,2' -> (3, 2); a tuple passes through."""
    parts = list(text) if isinstance(text, (tuple, list)) else str(text).replace(":", ",").split(",")
    values = [_int(part, key, where, minimum) for part in parts]
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise UserError(f"{key}={text!r} needs one or two integers", where)
    return tuple(values)


def _shape(text, key, where):
    """'c:h:w' -> (c, h, w); fewer fields are leading dimensions of 1."""
    parts = list(text) if isinstance(text, (tuple, list)) else str(text).split(":")
    values = [_int(part, key, where) for part in parts]
    if not 1 <= len(values) <= 3:
        raise UserError(f"{key}={text!r} must be c:h:w", where)
    return tuple([1] * (3 - len(values)) + values)


def _padding(text, key, where):
    word = str(text).strip().lower() if not isinstance(text, (tuple, list, int)) else text
    if word in ("valid", "same"):
        return word
    return _pair(word, key, where, minimum=0)


def _choice(options):
    def parse(text, key, where):
        word = str(text).strip().lower()
        if word not in options:
            raise UserError(f"{key}={text!r} must be one of {', '.join(options)}", where)
        return word
    return parse


def _axes(text, key, where):
    """'3' or '2,3': c:h:w axes 1 (channel), 2 (height), 3 (width), sorted."""
    parts = list(text) if isinstance(text, (tuple, list)) else str(text).split(",")
    values = sorted({_int(part, key, where) for part in (parts if parts else [text])})
    if not values or values[-1] > 3:
        raise UserError(f"{key}={text!r}: axes are 1 (channel), 2 (height), 3 (width)", where)
    return tuple(values)


def _one_axis(text, key, where):
    value = _int(text, key, where)
    if value > 3:
        raise UserError(f"{key}={value}: axes are 1 (channel), 2 (height), 3 (width)", where)
    return value


def _direction(text, key, where):
    """'1:3:2' (or 1,3,2): a permutation of the c:h:w axes 1, 2, 3."""
    parts = list(text) if isinstance(text, (tuple, list)) else \
        str(text).replace(",", ":").split(":")
    values = tuple(_int(part, key, where) for part in parts)
    if sorted(values) != [1, 2, 3]:
        raise UserError(f"{key}={text!r} must be a permutation of 1:2:3", where)
    return values


def _rate(text, key, where):
    value = _float(text, key, where)
    if not 0.0 <= value < 1.0:
        raise UserError(f"{key}={value} must be in [0, 1)", where)
    return value


PARSERS = {
    "input_shape": _shape, "target_shape": _shape, "unit": _int, "filters": _int,
    "kernel_size": _pair, "stride": _pair, "pool_size": _pair, "padding": _padding,
    "activation": _choice(ACTIVATIONS), "pooling": _choice(POOLINGS),
    "trainable": _bool, "disable_bias": _bool, "momentum": _float, "epsilon": _float,
    "dropout_rate": _rate, "depth_multiplier": _int, "flatten": _bool,
    "axis": _axes, "split_dimension": _one_axis, "split_number": _int, "direction": _direction, "upsample": _choice(("nearest",)),
    "weight_regularizer": _choice(("l2norm", "none")), "weight_regularizer_constant": _float,
    "weight_decay": _float, "bias_decay": _float,
    **{key: _choice(INITIALIZERS) for key in (
        "weight_initializer", "bias_initializer", "beta_initializer", "gamma_initializer",
        "moving_mean_initializer", "moving_variance_initializer")},
}


def canonical_key(key):
    return KEY_ALIASES.get(key, key)


def parse_property(layer_type, key, value, where):
    """Checks that `key` (canonical) belongs to `layer_type` and parses its value."""
    if key not in LAYER_TYPES.get(layer_type, set()) | COMMON_KEYS:
        raise UserError(f"unknown key '{key}' for a {layer_type} layer", where)
    return PARSERS[key](value, key, f"{where} {key}" if where else key)


def parse_input_layers(value):
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]
