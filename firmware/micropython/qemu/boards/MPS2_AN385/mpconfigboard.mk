# Cortex-M3 (no FPU: soft float) on QEMU's mps2-an385.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an385

CFLAGS += -mthumb -mcpu=cortex-m3 -mfloat-abi=soft
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M3"'
LDFLAGS += -mthumb -mcpu=cortex-m3 -mfloat-abi=soft

SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o

MPY_CROSS_FLAGS += -march=armv7m
MICROPY_FLOAT_IMPL = float
