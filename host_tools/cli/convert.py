"""microtrain convert: how an NNTrainer INI was read here — every layer as
it runs (realized activations and flattens included) with its inputs,
output shape and parameters, the loss, optimizer and learning-rate schedule,
and every key that was accepted but ignored."""
from host_tools.cli.common import add_model_arguments, load_spec
from host_tools.graph.normalize import normalize
from host_tools.graph.training_graph import build_training_graph


def register(commands):
    parser = commands.add_parser("convert", help="show how an NNTrainer INI is interpreted",
                                 description="Read MODEL (an NNTrainer INI) and print the "
                                             "network microtrain trains from it.")
    add_model_arguments(parser)
    parser.set_defaults(run=run)


def _shape(shape):
    return ":".join(str(d) for d in shape)


def _props(node):
    return ", ".join(f"{key}={value}" for key, value in sorted(node.props.items())
                     if key != "input_shape")


def _layer_lines(spec):
    graph = build_training_graph(spec)
    lines = [f"  {'layer':24} {'type':20} {'inputs':22} {'output':12} params"]
    for node in normalize(spec).nodes:
        count = sum(graph.tensors[tid].numel for key, tid in graph.params.get(node.name, {}).items()
                    if key in ("weight", "bias", "gamma", "beta"))
        frozen = "" if node.trainable or not count else " (frozen)"
        lines.append(f"  {node.name:24} {node.type:20} {','.join(node.inputs) or '-':22} "
                     f"{_shape(node.shape):12} {count}{frozen}  {_props(node)}".rstrip())
    return lines


def _schedule_line(spec):
    schedule = spec.lr_schedule
    if schedule is None:
        return f"constant {spec.optimizer.learning_rate:g}"
    first = ", ".join(f"{schedule.rate(i):.6g}" for i in range(3))
    return f"{schedule.type} (iterations 0-2: {first}; host training only)"


def run(args):
    spec = load_spec(args, quiet=True)  # the ignored keys are listed below instead
    opt = spec.optimizer
    print(f"model {spec.source}: batch {spec.batch_size}, epochs {spec.epochs}, loss {spec.loss}")
    print(f"optimizer {opt.type}: learning_rate {opt.learning_rate:g}" +
          (f", momentum {opt.momentum:g}" if opt.type == "sgd" else
           f", beta1 {opt.beta1:g}, beta2 {opt.beta2:g}, epsilon {opt.epsilon:g}"))
    print(f"learning rate: {_schedule_line(spec)}")
    print("\n".join(_layer_lines(spec)))
    print(f"ignored keys: {len(spec.warnings)}")
    for warning in spec.warnings:
        print(f"  {warning}")
    return 0
