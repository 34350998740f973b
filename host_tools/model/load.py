"""Load a model file by its extension (INI today; ONNX comes in its own issue)."""
from pathlib import Path

from host_tools.errors import UserError
from host_tools.model.ini import load_ini


def load_model(path):
    if not Path(path).exists():
        raise UserError("no such model file", str(path))
    if Path(path).suffix.lower() not in (".ini", ".cfg", ".conf"):
        raise UserError("unsupported model format (expected an NNTrainer-style .ini)", str(path))
    return load_ini(path)
