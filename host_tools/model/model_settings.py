"""The [Model] and [Optimizer] sections (shared by the INI reader and the API)."""
from host_tools.errors import UserError
from host_tools.model.properties import _float, _int
from host_tools.model.spec import OptimizerSpec

LOSSES = ("mse", "cross", "cross_softmax", "cross_sigmoid")
MODEL_KEYS = {"type", "loss", "batch_size", "epochs", "micro_batch"}
OPTIMIZER_KEYS = {"type", "learning_rate", "momentum", "beta1", "beta2", "epsilon"}
OPTIMIZERS = ("sgd", "adam")


def parse_model_settings(values, where):
    """Returns (loss, batch_size, epochs) from a {key: text} mapping."""
    for key in values:
        if key not in MODEL_KEYS:
            raise UserError(f"unknown key '{key}' (known: {', '.join(sorted(MODEL_KEYS))})", where)
    loss = str(values.get("loss", "mse")).strip().lower()
    if loss not in LOSSES:
        raise UserError(f"loss={loss!r} must be one of {', '.join(LOSSES)}", f"{where} loss")
    batch_size = _int(values.get("batch_size", 1), "batch_size", where)
    epochs = _int(values.get("epochs", 1), "epochs", where)
    return loss, batch_size, epochs


def parse_micro_batch(values, where):
    """[Model] micro_batch: samples per pass (0 = the whole batch); checked
    against the batch when the graph is built, after --batch overrides."""
    return _int(values.get("micro_batch", 0), "micro_batch", where, minimum=0)


def parse_optimizer(values, where):
    for key in values:
        if key not in OPTIMIZER_KEYS:
            raise UserError(f"unknown key '{key}' (known: {', '.join(sorted(OPTIMIZER_KEYS))})",
                            where)
    kind = str(values.get("type", "sgd")).strip().lower()
    if kind not in OPTIMIZERS:
        raise UserError(f"type={kind!r} must be one of {', '.join(OPTIMIZERS)}", f"{where} type")
    spec = OptimizerSpec(type=kind)
    for key in OPTIMIZER_KEYS - {"type"}:
        if key in values:
            setattr(spec, key, _float(values[key], key, f"{where} {key}"))
    if spec.learning_rate <= 0:
        raise UserError("learning_rate must be > 0", f"{where} learning_rate")
    return spec
