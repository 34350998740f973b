"""Host side of a board on a serial line: flash a bundle, upload samples,
start/stop and watch training, pull the trained weights back (see
docs/protocol.md for the link, docs/device.md for what the board does)."""
