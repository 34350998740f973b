"""The .mtb bundle: one checksummed file carrying a planned program to a device.
Writing is here; reading is the C reader in core_cy (read_bundle)."""
from host_tools.bundle.content import BundleContent, Dataset, InitRecord, TrainSettings  # noqa: F401
from host_tools.bundle.writer import encode_bundle, write_bundle  # noqa: F401
