"""NNTrainer keys we accept but do not act on, each with the reason the
reader prints in its one-line warning (never dropped silently)."""

MODEL = {
    "save_path": "weights are written with --dump-weights (host) or `microtrain pull` (device)",
    "continue_train": "training starts from --init-weights",
    "fsu": "flash swap is planned by microtrain itself from --ram-budget",
    "fsu_path": "the swap file is --swap-file",
    "fsu_lookahead": "use --lookahead",
    "memory_swap": "swap is planned by microtrain itself from --ram-budget",
    "memory_swap_path": "the swap file is --swap-file",
    "memory_swap_lookahead": "use --lookahead",
    "memory_optimization": "the memory planner always reuses memory",
    "num_threads": "the C core runs on one thread",
}

LAYER = {
    "loss": "NNTrainer's per-layer loss value is an output, not a setting",
    "print": "debug printing is not supported",
}

SECTIONS = {
    "train_set": "data comes from --data",
    "valid_set": "data comes from --data (x_test, y_test)",
    "test_set": "data comes from --data (x_test, y_test)",
    "dataset": "data comes from --data",
}
