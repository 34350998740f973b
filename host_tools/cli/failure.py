"""Every failure a user can meet, as the one line the CLI prints (exit 2)."""
import struct

from core_cy import BundleError, ExecutorError
from host_tools.errors import UserError


def one_line(error):
    """-> the message for an error the CLI reports, or None (a bug: let it raise)."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, OSError):
        return _os_error(error)
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text ({error.reason} at byte {error.start})"
    if isinstance(error, BundleError):
        return f"bad bundle: {error}"
    if isinstance(error, ExecutorError):
        return f"the C executor failed: {error}"
    if isinstance(error, MemoryError):
        return "out of memory (a smaller --batch or a --ram-budget helps)"
    if isinstance(error, struct.error):
        return f"a value does not fit its field in the bundle format ({error})"
    return None


def _os_error(error):
    where = error.filename if error.filename is not None else ""
    reason = error.strerror or str(error)
    return f"{where}: {reason}" if where else reason
