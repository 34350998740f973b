"""Small models and optimizer settings the fused-update and tiling tests share:
an MLP whose first FC layer both techniques rewrite, and a CNN ending in one."""
from host_tools.model.api import Model

SGD = {"type": "sgd", "learning_rate": 0.1}
MOMENTUM = {"type": "sgd", "learning_rate": 0.05, "momentum": 0.9}
ADAM = {"type": "adam", "learning_rate": 0.01}


def mlp(optimizer, batch=8, micro=0, decay=0.0):
    m = Model(loss="cross", batch_size=batch, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="1:1:12")
    extra = {"weight_decay": decay} if decay else {}
    m.add("fc1", "fully_connected", unit=9, activation="relu", **extra)
    m.add("fc2", "fully_connected", unit=4, activation="softmax", disable_bias=True)
    return m.spec()


def cnn(optimizer, micro=0, classes=4):
    m = Model(loss="cross", batch_size=4, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="1:6:6")
    m.add("conv", "conv2d", filters=3, kernel_size=3, padding="same", activation="relu")
    m.add("pool", "pooling2d", pooling="max", pool_size=2)
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=classes, activation="softmax")
    return m.spec()
