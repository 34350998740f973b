"""The [Model], [Optimizer] and [LearningRateScheduler] sections (shared by
the INI reader and the API), with NNTrainer's keys. Keys we do not act on
are accepted with a warning saying why (host_tools.model.ignored_keys)."""
from host_tools.errors import UserError
from host_tools.model import ignored_keys
from host_tools.model.lr_schedule import parse_lr_schedule
from host_tools.model.properties import _float, _int
from host_tools.model.spec import OptimizerSpec

LOSSES = ("mse", "cross", "cross_softmax", "cross_sigmoid")
MODEL_KEYS = {"type", "loss", "batch_size", "epochs", "model_tensor_type", "tensor_format",
              "loss_scale", "micro_batch", "precision"}
# Older NNTrainer files put the optimizer in [Model]; [Optimizer] wins over them.
LEGACY_OPTIMIZER_KEYS = {"optimizer": "type", "learning_rate": "learning_rate",
                         "decay_rate": "decay_rate", "decay_steps": "decay_steps",
                         "beta1": "beta1", "beta2": "beta2", "epsilon": "epsilon",
                         "momentum": "momentum"}
OPTIMIZER_KEYS = {"type", "learning_rate", "momentum", "beta1", "beta2", "epsilon"}
SCHEDULE_KEYS = {"decay_rate", "decay_steps"}
OPTIMIZERS = ("sgd", "adam")
PRECISIONS = ("float32", "int8", "fixed")


def _warn(warnings, where, key, reason):
    warnings.append(f"{where} {key}: ignored ({reason})")


def _check_single_precision(values, where):
    tensor_type = str(values.get("model_tensor_type", "fp32-fp32")).strip().lower()
    if tensor_type != "fp32-fp32":
        raise UserError(f"model_tensor_type={tensor_type!r}: only FP32-FP32 is supported "
                        "(mixed precision is out of scope)", where)
    tensor_format = str(values.get("tensor_format", "nchw")).strip().lower()
    if tensor_format != "nchw":
        raise UserError(f"tensor_format={tensor_format!r}: only NCHW is supported", where)


def parse_model_settings(values, where, warnings=None):
    """Returns (loss or None, batch_size, epochs, legacy optimizer keys)."""
    warnings = [] if warnings is None else warnings
    legacy = {}
    for key, text in values.items():
        if key in ignored_keys.MODEL:
            _warn(warnings, where, key, ignored_keys.MODEL[key])
        elif key in LEGACY_OPTIMIZER_KEYS:
            legacy[LEGACY_OPTIMIZER_KEYS[key]] = text
        elif key not in MODEL_KEYS:
            known = sorted(MODEL_KEYS | set(ignored_keys.MODEL) | set(LEGACY_OPTIMIZER_KEYS))
            raise UserError(f"unknown key '{key}' (known: {', '.join(known)})", where)
    kind = str(values.get("type", "neuralnetwork")).strip().lower()
    if kind not in ("neuralnetwork", "neural_network"):
        raise UserError(f"type={kind!r}: only NeuralNetwork models are supported", where)
    _check_single_precision(values, where)
    if "loss_scale" in values:
        _warn(warnings, where, "loss_scale", "loss scaling is for mixed precision only")
    loss = values.get("loss")
    if loss is not None:
        loss = str(loss).strip().lower()
        if loss not in LOSSES:
            raise UserError(f"loss={loss!r} must be one of {', '.join(LOSSES)}", f"{where} loss")
    batch_size = _int(values.get("batch_size", 1), "batch_size", where)
    epochs = _int(values.get("epochs", 1), "epochs", where)
    return loss, batch_size, epochs, legacy


def parse_micro_batch(values, where):
    """[Model] micro_batch: samples per pass (0 = the whole batch); checked
    against the batch when the graph is built, after --batch overrides."""
    return _int(values.get("micro_batch", 0), "micro_batch", where, minimum=0)


def parse_precision(value, where):
    """[Model] precision / --precision: float32 (default), int8 or fixed."""
    text = str("float32" if value is None else value).strip().lower()
    if text not in PRECISIONS:
        raise UserError(f"precision={text!r} must be one of {', '.join(PRECISIONS)}",
                        f"{where} precision")
    return text


def parse_optimizer(values, where):
    """Returns (OptimizerSpec, LRSchedule or None from decay_rate / decay_steps)."""
    for key in values:
        if key not in OPTIMIZER_KEYS | SCHEDULE_KEYS:
            known = sorted(OPTIMIZER_KEYS | SCHEDULE_KEYS)
            raise UserError(f"unknown key '{key}' (known: {', '.join(known)})", where)
    kind = str(values.get("type", "sgd")).strip().lower()
    if kind not in OPTIMIZERS:
        raise UserError(f"type={kind!r} must be one of {', '.join(OPTIMIZERS)}", f"{where} type")
    spec = OptimizerSpec(type=kind)
    for key in OPTIMIZER_KEYS - {"type"}:
        if key in values:
            setattr(spec, key, _float(values[key], key, f"{where} {key}"))
    if spec.learning_rate <= 0:
        raise UserError("learning_rate must be > 0", f"{where} learning_rate")
    schedule = None
    if SCHEDULE_KEYS & set(values):
        schedule = parse_lr_schedule(
            {"type": "exponential", **{k: values[k] for k in SCHEDULE_KEYS if k in values}},
            where, spec.learning_rate)
    return spec, schedule
