"""Reader for NNTrainer's `.nnmodelgolden` files (format from recorder_v2.py
and models_test_utils.cpp): int32 iteration count, then per iteration the
tensors inputs, labels, every parameter (NNTrainer order and layout: FC
weight as (in, out)) and outputs, each as int32 element count + float32 data."""
import os
import tarfile
from pathlib import Path

import numpy as np

# NNTrainer's recorded goldens (Apache-2.0) live beside the checkout, in
# ../shared/peers/nntrainer/, not in the repository; MICROTRAIN_NNTRAINER_GOLDENS overrides.
TARBALL = Path(os.environ.get(
    "MICROTRAIN_NNTRAINER_GOLDENS",
    Path(__file__).resolve().parents[2] / "shared" / "peers" / "nntrainer" / "unittest_models_v2.tar.gz"))


def golden_names():
    """Every golden in the tarball, sorted (empty if the tarball is absent)."""
    if not TARBALL.exists():
        return []
    with tarfile.open(TARBALL) as tar:
        return sorted(Path(m.name).name[:-len(".nnmodelgolden")] for m in tar.getmembers()
                      if m.name.endswith(".nnmodelgolden"))


def read_golden_bytes(name):
    with tarfile.open(TARBALL) as tar:
        member = next(m for m in tar.getmembers()
                      if Path(m.name).name == f"{name}.nnmodelgolden")
        return tar.extractfile(member).read()


def split_tensors(raw):
    """(iteration count, flat list of float32 arrays in file order)."""
    n_iter = int(np.frombuffer(raw[:4], np.int32)[0])
    tensors, offset = [], 4
    while offset < len(raw):
        count = int(np.frombuffer(raw[offset:offset + 4], np.int32)[0])
        offset += 4
        tensors.append(np.frombuffer(raw[offset:offset + 4 * count], np.float32).copy())
        offset += 4 * count
    return n_iter, tensors


def iterations(raw, n_params):
    """Per iteration: dict(input, label, params (list), output); one input,
    one label and one output per iteration, as every model run here has."""
    n_iter, tensors = split_tensors(raw)
    per_iteration = 3 + n_params
    if len(tensors) != n_iter * per_iteration:
        raise ValueError(f"{len(tensors)} tensors for {n_iter} iterations of {per_iteration}")
    result = []
    for it in range(n_iter):
        chunk = tensors[it * per_iteration:(it + 1) * per_iteration]
        result.append({"input": chunk[0], "label": chunk[1], "params": chunk[2:-1],
                       "output": chunk[-1]})
    return result
