"""A planned Program (and its swap schedule, training settings and data)
-> BundleContent, ready for write_bundle."""
import numpy as np

from host_tools.bundle.content import BundleContent, Dataset, InitRecord, TrainSettings
from host_tools.bundle.layout import LABEL_INDEX, TRAIN_SHUFFLE, WHERE_ARENA, WHERE_FLASH
from host_tools.data import encode
from host_tools.graph.tiling import split_values
from host_tools.weights import initial_values, npz_params


def model_description(program):
    """What a host needs to talk about the bundle: layers, parameters by npz key."""
    graph = program.graph
    spec = graph.spec
    return {
        "source": str(spec.source), "loss": graph.loss, "batch": graph.batch,
        "optimizer": vars(spec.optimizer),
        "layers": [{"name": n.name, "type": n.type, "inputs": n.inputs, "shape": list(n.shape)}
                   for n in graph.nodes],
        "params": {key: _param(graph, key, t) for key, t in npz_params(graph).items()},
        "output_shape": list(graph.tensors[graph.output].shape),
        "unswapped_arena_bytes": program.unswapped_arena_bytes,
        **_precision(graph),
    }


def _param(graph, key, tensor):
    """Where a parameter lives; integer ones carry their dtype and the per-output-
    channel scales that turn them back into floats (real = scale[o] * q)."""
    entry = {"tensor": tensor.id, "shape": list(tensor.shape)}
    if tensor.id in getattr(graph, "chunks", {}):   # tiled: its bytes are these, in order
        entry["chunks"] = list(graph.chunks[tensor.id])
    if graph.quant is not None:
        layer, name = key.split(":")
        q = graph.quant.layers[layer]
        entry["dtype"] = tensor.dtype
        entry["scale"] = [float(v) for v in (q.weight_scale if name == "weight"
                                             else q.bias_scale)]
    return entry


def _precision(graph):
    """float32 bundles stay as they were; integer ones say how the samples and
    every activation are quantized (real = scale * (q - zero_point))."""
    quant = graph.quant
    if quant is None:
        return {}
    return {"precision": quant.precision, "qas": bool(graph.spec.qas),
            "input_pre_quantized": graph.tensors[graph.input].dtype == "i32",
            "activations": {name: [float(scale), int(zero_point)]
                            for name, (scale, zero_point) in quant.activations.items()},
            "dtypes": [t.dtype for t in graph.tensors]}


def _init_records(program, values):
    records = []
    for tid, value in sorted(values.items()):
        if program.swap is not None:
            place, offset = program.swap.home(tid)
        else:
            place, offset = "arena", int(program.tensors[tid]["offset"])
        where = WHERE_FLASH if place == "flash" else WHERE_ARENA
        records.append(InitRecord(tid, where, offset, np.ascontiguousarray(value).tobytes()))
    return records


def _dataset(graph, x, y, name):
    """Samples encoded as the program's input and label tensors hold them."""
    x, y = encode(x, y, graph, name)
    return Dataset(x, y.view(np.int32).reshape(-1) if graph.label_kind == LABEL_INDEX
                   else y.view(np.float32))


def bundle_content(program, seed=0, epochs=1, iterations=0, checkpoint_interval=0,
                   shuffle=True, data=None, weights=None):
    """weights: optional {tensor id: array} replacing the seeded initial values."""
    graph = program.graph
    values = initial_values(graph, seed)
    values.update(weights or {})
    values = split_values(graph, values)   # a whole tiled weight goes to its chunks
    dataset = test_dataset = None
    if data is not None:
        dataset = _dataset(graph, data.x, data.y, data.name)
        if data.x_test is not None:
            test_dataset = _dataset(graph, data.x_test, data.y_test, f"{data.name} (test)")
    sample_numel = graph.tensors[graph.input].numel // graph.batch
    y_bytes = graph.tensors[graph.labels].nbytes // graph.batch
    swap = program.swap
    return BundleContent(
        ops=program.ops, tensors=program.tensors, arena_bytes=program.arena_bytes,
        input=graph.input, labels=graph.labels, metrics=graph.metrics, output=graph.output,
        batch=graph.batch, x_numel=sample_numel, label_kind=graph.label_kind, y_bytes=y_bytes,
        flash_bytes=swap.flash_bytes if swap else 0,
        swap_events=swap.events_array() if swap else None,
        init=_init_records(program, values),
        train=TrainSettings(epochs=epochs, iterations=iterations,
                            checkpoint_interval=checkpoint_interval, shuffle_seed=seed,
                            flags=TRAIN_SHUFFLE if shuffle else 0),
        dataset=dataset, test_dataset=test_dataset, model=model_description(program),
        names=[t.name for t in graph.tensors], micro_batches=graph.micro_batches)
