"""ModelSpec -> Nodes in topological order, NNTrainer style: layers without
input_layers take the previous section, `activation=` becomes its own layer,
the loss absorbs a final softmax / sigmoid for cross-entropy."""
from dataclasses import dataclass

from host_tools.errors import UserError
from host_tools.graph.conv1d import as_conv2d_props
from host_tools.graph.split import split_outputs
from host_tools.graph.nodes import Node
from host_tools.graph.shapes import output_shape

# (fewest, most) inputs per layer type; others take exactly one
INPUT_COUNTS = {"input": (0, 0), "addition": (1, 7), "subtract": (2, 2), "multiply": (2, 2),
                "concat": (2, 7)}
SPLIT_ACTIVATION = ("fully_connected", "conv1d", "conv2d", "depthwise_conv2d",
                    "batch_normalization", "addition")


@dataclass
class NormalizedModel:
    nodes: list          # topological order
    loss: str            # mse | cross_softmax | cross_sigmoid
    loss_input: str      # node whose output the loss reads


def _expand(spec):
    """Layer specs -> nodes; returns nodes and a map layer name -> final node name."""
    nodes, final_name, previous, splits = [], {}, None, []
    for layer in spec.layers:
        props = dict(layer.props)
        trainable = props.pop("trainable", True)
        layer_type = layer.type
        if layer_type == "conv1d":
            props, layer_type = as_conv2d_props(props, layer.where), "conv2d"
        inputs = list(layer.input_layers) or ([previous] if previous else [])
        if layer.type != "input" and "input_shape" in props:
            if inputs and layer.input_layers:
                raise UserError("input_shape is only for the first layer", layer.where)
            input_node = Node(f"{layer.name}/input", "input", [],
                              {"input_shape": props.pop("input_shape")}, False, layer.where)
            nodes.append(input_node)
            inputs = [input_node.name]
        activation = props.pop("activation", None) if layer.type in SPLIT_ACTIVATION else None
        layer_type = "identity" if props.get("activation") == "none" else layer_type
        flatten = props.pop("flatten", False)
        if layer_type == "split":  # its outputs are slice nodes, made once referenced
            splits.append(Node(layer.name, "split", inputs, props, trainable, layer.where))
            final_name[layer.name] = f"{layer.name}(0)"
            previous = layer.name
            continue
        nodes.append(Node(layer.name, layer_type, inputs, props, trainable, layer.where))
        final_name[layer.name] = layer.name
        if activation and activation != "none":
            _append_after(nodes, final_name, layer, "activation", {"activation": activation},
                          trainable)
        if flatten:  # NNTrainer's `flatten = true`: after the activation
            _append_after(nodes, final_name, layer, "flatten", {}, trainable)
        previous = layer.name
    return nodes + split_outputs(splits, nodes), final_name


def _append_after(nodes, final_name, layer, kind, props, trainable):
    """A node realized from a layer's property, reading the layer's current end."""
    name = f"{layer.name}/{kind}"
    nodes.append(Node(name, kind, [final_name[layer.name]], props, trainable, layer.where))
    final_name[layer.name] = name


def _resolve_inputs(nodes, final_name):
    names = {node.name for node in nodes}
    for node in nodes:
        resolved = []
        for name in node.inputs:
            if name in final_name and not name.endswith("/input"):
                target = final_name[name]
                # nodes realized from a layer read the layer itself, not its end
                resolved.append(name if "/" in node.name and
                                node.name.split("/")[0] == name else target)
            elif name in names:
                resolved.append(name)
            else:
                raise UserError(f"input layer '{name}' does not exist", node.where)
        node.inputs = resolved


def _topological(nodes):
    """Kahn's algorithm keeping file order among ready nodes; reports a cycle."""
    by_name = {node.name: node for node in nodes}
    pending = {node.name: len(node.inputs) for node in nodes}
    consumers = {node.name: [] for node in nodes}
    for node in nodes:
        for name in node.inputs:
            consumers[name].append(node.name)
    order, ready = [], [node.name for node in nodes if not node.inputs]
    while ready:
        name = ready.pop(0)
        order.append(by_name[name])
        for consumer in consumers[name]:
            pending[consumer] -= 1
            if pending[consumer] == 0:
                ready.append(consumer)
    if len(order) != len(nodes):
        stuck = [node for node in nodes if pending[node.name] > 0]
        raise UserError(f"the layers form a cycle: {', '.join(n.name for n in stuck)}",
                        stuck[0].where)
    return order


def _check_input_count(node):
    fewest, most = INPUT_COUNTS.get(node.type, (1, 1))
    if not fewest <= len(node.inputs) <= most:
        wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
        raise UserError(f"a {node.type} layer takes {wanted} inputs, got {len(node.inputs)}",
                        node.where)
    if len(set(node.inputs)) != len(node.inputs):
        raise UserError("the same layer is given twice in input_layers", node.where)


def _infer_shapes(order):
    shapes = {}
    for node in order:
        if node.type == "input":
            if "input_shape" not in node.props:
                raise UserError("missing key 'input_shape'", node.where)
        elif not node.inputs:
            raise UserError("layer has no input (missing input_shape or input_layers)", node.where)
        _check_input_count(node)
        node.in_shapes = [shapes[name] for name in node.inputs]
        node.shape = output_shape(node, node.in_shapes)
        shapes[node.name] = node.shape


def _loss(spec, order):
    """Resolves `cross` by the last layer's activation, NNTrainer style."""
    last = order[-1]
    loss = spec.loss
    is_act = last.type == "activation"
    act = last.props.get("activation") if is_act else None
    if loss == "cross":
        if act not in ("softmax", "sigmoid"):
            raise UserError("loss=cross needs the last layer's activation to be softmax or sigmoid",
                            f"{spec.source} [Model] loss")
        loss = "cross_softmax" if act == "softmax" else "cross_sigmoid"
    if loss in ("cross_softmax", "cross_sigmoid") and act in ("softmax", "sigmoid"):
        if (loss == "cross_softmax") != (act == "softmax"):
            raise UserError(f"{loss} does not match the last activation {act}",
                            f"{spec.source} [Model] loss")
        order = order[:-1]  # the loss computes the activation itself
        return order, loss, last.inputs[0]
    return order, loss, last.name


def normalize(spec):
    nodes, final_name = _expand(spec)
    seen = set()
    for node in nodes:
        if node.name in seen:
            raise UserError(f"duplicate layer name '{node.name}'", node.where)
        seen.add(node.name)
    _resolve_inputs(nodes, final_name)
    order = _topological(nodes)
    inputs = [node for node in order if node.type == "input"]
    if len(inputs) != 1:
        raise UserError(f"the model needs exactly one input layer, found {len(inputs)}",
                        spec.source)
    _infer_shapes(order)
    order, loss, loss_input = _loss(spec, order)
    consumed = {name for node in order for name in node.inputs}
    dangling = [node.name for node in order if node.name not in consumed and node.name != loss_input]
    if dangling:
        raise UserError(f"layer output not used by anything: {', '.join(dangling)}", spec.source)
    return NormalizedModel(order, loss, loss_input)
