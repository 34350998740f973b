"""The C core: kernels, static arena executor, bundle reader (via Cython)."""
from core_cy._core import CONSTANTS, OP_KINDS, OP_RECORD_BYTES, Executor, ExecutorError  # noqa: F401
