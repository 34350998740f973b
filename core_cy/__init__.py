"""The C core: kernels, static arena executor, bundle reader (via Cython)."""
from core_cy._core import (CONSTANTS, OP_KINDS, OP_RECORD_BYTES, BundleError,  # noqa: F401
                           Executor, ExecutorError, FileStorage, RamStorage,
                           SwapRuntime, read_bundle)
