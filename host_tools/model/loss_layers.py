"""NNTrainer writes the loss either as [Model] loss or as a final layer
(`type = mse`, `cross_softmax`, ...). Both become ModelSpec.loss here."""
from host_tools.errors import UserError
from host_tools.model.properties import LOSS_LAYERS


def fold_loss_layers(spec):
    """Removes a trailing loss layer into spec.loss (in place); returns spec."""
    loss_layers = [layer for layer in spec.layers if layer.type in LOSS_LAYERS]
    if not loss_layers:
        spec.loss = spec.loss or "mse"
        return spec
    layer = loss_layers[0]
    if len(loss_layers) > 1 or layer is not spec.layers[-1]:
        raise UserError("only one loss layer, as the last layer, is supported", layer.where)
    if len(spec.layers) < 2:
        raise UserError("a loss layer needs a layer before it", layer.where)
    previous = spec.layers[-2].name
    if layer.input_layers not in ([], [previous]):
        raise UserError(f"the loss layer must read the layer before it ('{previous}')",
                        layer.where)
    if spec.loss is not None and spec.loss != layer.type:
        raise UserError(f"[Model] loss={spec.loss} conflicts with the loss layer type "
                        f"{layer.type}", layer.where)
    if layer.props:
        raise UserError(f"unknown key '{next(iter(layer.props))}' for a loss layer", layer.where)
    spec.loss = layer.type
    spec.layers = spec.layers[:-1]
    return spec
