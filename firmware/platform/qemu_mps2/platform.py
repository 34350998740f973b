"""PlatformIO dev-platform for QEMU's MPS2 boards: everything comes from the system
(arm-none-eabi-gcc, qemu-system-arm), so nothing is fetched from the registry."""

from platformio.public import PlatformBase


class Qemu_mps2Platform(PlatformBase):
    pass
