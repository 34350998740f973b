"""Boards the host tools can start or plan for. The bare-metal figures are the
firmware's: its linker script (firmware/ld/mps2_256k.ld) gives the training
arena a fixed 224 KiB of the 256 KiB SRAM, which the board reports in INFO
(tests/test_firmware_build.py checks the two agree). The MicroPython boards hold
the arena in MicroPython's heap, next to the bundle (read into RAM) and the agent's
objects: the arena may take MICROPYTHON_ARENA_BYTES of a heap of
MICROPYTHON_QEMU_HEAP (firmware/micropython/qemu/Makefile; its linker script fits
heap, statics and stack into 2.25 MiB) or, on the 64-bit unix port, MICROPYTHON_UNIX_HEAP."""

BAREMETAL_RAM_BYTES = 224 * 1024
BAREMETAL_FLASH_BYTES = 16 << 20
MICROPYTHON_ARENA_BYTES = 256 * 1024
MICROPYTHON_QEMU_HEAP = 2 << 20
MICROPYTHON_UNIX_HEAP = 4 << 20
MICROPYTHON_TARGETS = ("micropython-unix", "micropython-m4f", "micropython-m3")

# --target -> RAM the bundle's arena may use (None: the Linux simulator's own limit)
RAM_BYTES = {"linux": None, "baremetal-m4f": BAREMETAL_RAM_BYTES, "baremetal-m3": BAREMETAL_RAM_BYTES}
RAM_BYTES.update((target, MICROPYTHON_ARENA_BYTES) for target in MICROPYTHON_TARGETS)
TARGET_NAMES = tuple(RAM_BYTES)


def start_board(target, storage_dir, stderr=None):
    """-> (port path, Popen-like board) for any target."""
    if target == "linux":
        from board.sim import start_board_sim
        return start_board_sim(storage_dir, stderr=stderr)
    if target in MICROPYTHON_TARGETS:
        from host_tools.device.micropython_board import start_micropython_board
        return start_micropython_board(target, storage_dir, stderr=stderr)
    from host_tools.device.qemu_board import start_qemu_board
    return start_qemu_board(target, storage_dir, stderr=stderr)
