"""Model descriptions: the INI reader and the Python API build the same ModelSpec."""
from host_tools.model.spec import LayerSpec, ModelSpec, OptimizerSpec  # noqa: F401
from host_tools.model.api import Model  # noqa: F401
from host_tools.model.ini import load_ini  # noqa: F401
