"""Boards the host tools can start or plan for. The bare-metal figures are the
firmware's: its linker script (firmware/ld/mps2_256k.ld) gives the training
arena a fixed 224 KiB of the 256 KiB SRAM, which the board reports in INFO
(tests/test_firmware_build.py checks the two agree)."""

BAREMETAL_RAM_BYTES = 224 * 1024
BAREMETAL_FLASH_BYTES = 16 << 20

# --target -> RAM the bundle's arena may use (None: the Linux simulator's own limit)
RAM_BYTES = {"linux": None, "baremetal-m4f": BAREMETAL_RAM_BYTES, "baremetal-m3": BAREMETAL_RAM_BYTES}
TARGET_NAMES = tuple(RAM_BYTES)


def start_board(target, storage_dir, stderr=None):
    """-> (port path, Popen-like board) for any target."""
    if target == "linux":
        from board.sim import start_board_sim
        return start_board_sim(storage_dir, stderr=stderr)
    from host_tools.device.qemu_board import start_qemu_board
    return start_qemu_board(target, storage_dir, stderr=stderr)
