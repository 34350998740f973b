"""conv1d (NNTrainer: input c:1:w, kernel_size k, stride s, padding valid /
same / p / "left,right") is conv2d with a 1 x k kernel: the same arithmetic,
weight (filters, c, 1, k) — nn.Conv1d's (filters, c, k) with a unit axis."""
from host_tools.errors import UserError


def as_conv2d_props(props, where):
    """conv1d props -> conv2d props (kernel_size etc. parse as pairs: take one)."""
    converted = dict(props)
    if "kernel_size" not in props:
        raise UserError("missing key 'kernel_size'", where)
    converted["kernel_size"] = (1, props["kernel_size"][1])
    converted["stride"] = (1, props.get("stride", (1, 1))[1])
    padding = props.get("padding", "valid")
    if isinstance(padding, tuple):
        if padding[0] != padding[1]:
            raise UserError(f"padding={padding[0]},{padding[1]}: only equal left and right "
                            "padding is supported", where)
        converted["padding"] = (0, padding[1])
    converted["conv1d"] = True  # shape inference checks the input height is 1
    return converted
