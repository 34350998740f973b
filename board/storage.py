"""The board's storage directory, standing in for its flash: file names,
atomic replacement and free space. No numpy, no os.path (MicroPython has
neither); os.replace falls back to os.rename, which replaces on the
file systems MicroPython ports use.

Atomic means: write a temp file, fsync it, rename it over the target, fsync
the directory. A power cut at any moment leaves either the old or the new
file, never a mix; a leftover *.tmp is removed at the next boot.
"""

import os

BUNDLE = "bundle.mtb"
SAMPLES = "samples.bin"
FLASH = "flash.bin"           # home of swapped tensors (the bundle's SWAP section)
FLASH_CANDIDATE = "flash.new.tmp"   # an uploaded bundle's flash while it is checked
UPLOAD_TEMP = "upload.tmp"    # upload in progress
TEMP_SUFFIX = ".tmp"
MAX_U32 = 0xFFFFFFFF

_replace = getattr(os, "replace", None) or os.rename


class Storage:
    """flash_limit: free bytes reported at most (a board whose flash partition is
    smaller than the directory's file system); None = the file system's."""

    def __init__(self, directory, flash_limit=None):
        self.directory = directory.rstrip("/") or "/"
        self.flash_limit = flash_limit

    def path(self, name):
        return self.directory + "/" + name

    def read(self, name):
        """Whole file as bytes, or None if it does not exist."""
        try:
            with open(self.path(name), "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def size(self, name):
        """Bytes of the file, 0 if it does not exist."""
        try:
            return os.stat(self.path(name))[6]
        except OSError:
            return 0

    def exists(self, name):
        try:
            os.stat(self.path(name))
            return True
        except OSError:
            return False

    def write_atomic(self, name, data):
        temp = name + TEMP_SUFFIX
        with open(self.path(temp), "wb") as handle:
            handle.write(data)
            _sync(handle)
        self.install(temp, name)

    def install(self, temp, name):
        """Rename an already fsynced temp file over `name`, durably."""
        _replace(self.path(temp), self.path(name))
        self.sync_directory()

    def remove(self, name):
        try:
            os.remove(self.path(name))
        except OSError:
            pass

    def remove_temps(self):
        """Leftovers of writes a power cut interrupted."""
        for name in os.listdir(self.directory):
            if name.endswith(TEMP_SUFFIX):
                self.remove(name)

    def sync_directory(self):
        # Makes the rename itself durable; not every port can open a directory.
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except (AttributeError, OSError):
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def free_bytes(self):
        """Free space (for INFO and the swap store of a new bundle), capped to a u32."""
        try:
            stat = os.statvfs(self.directory)
            free = stat[4] * stat[1]  # f_bavail * f_frsize
        except (AttributeError, OSError):
            free = 0
        if self.flash_limit is not None:
            free = min(free, self.flash_limit)
        return min(free, MAX_U32)


def fsync_file(handle):
    """Flush and fsync; OSError if the file system fails. Ports without os.fsync
    (MicroPython: littlefs commits a file when it is closed) only flush."""
    handle.flush()
    fsync = getattr(os, "fsync", None)
    if fsync is not None:
        fsync(handle.fileno())


def _sync(handle):
    try:
        fsync_file(handle)
    except OSError:
        pass
