"""Batch-norm folding: a batch norm right after a conv / dense layer becomes
part of that layer's weight and bias, in eval-mode arithmetic:
    y = gamma * (W x + b - mean) / sqrt(var + eps) + beta
      = (W * k) x + (b - mean) * k + beta,   k = gamma / sqrt(var + eps)."""
import numpy as np


def fold_batch_norm(weight, bias, gamma, beta, mean, var, epsilon):
    """-> (weight, bias) float32; k scales each output channel (axis 0)."""
    k = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + epsilon)
    weight = np.asarray(weight, np.float64) * k.reshape((-1,) + (1,) * (np.ndim(weight) - 1))
    bias = np.zeros(len(k)) if bias is None else np.asarray(bias, np.float64)
    bias = (bias - np.asarray(mean, np.float64)) * k + np.asarray(beta, np.float64)
    return weight.astype(np.float32), bias.astype(np.float32)


def foldable_pairs(nodes):
    """(layer, batch norm) node pairs where the batch norm is the layer's only
    consumer and reads nothing else: folding them changes no other output."""
    consumers = {}
    for node in nodes:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
    pairs = []
    for node in nodes:
        users = consumers.get(node.name, [])
        if node.type in ("conv2d", "depthwise_conv2d", "fully_connected") and len(users) == 1 \
                and users[0].type == "batch_normalization":
            pairs.append((node, users[0]))
    return pairs
