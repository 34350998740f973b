# mtboard: what the QEMU MPS2 MicroPython board needs besides the core: its UART for the
# protocol and a flash chip stood in for by a host file (semihosting). Only the repo's QEMU
# port (firmware/micropython/qemu) sets MTBOARD_QEMU=1; any other port built with
# USER_C_MODULES=firmware/micropython/modules (unix, real boards) leaves it out.
ifeq ($(MTBOARD_QEMU),1)
MTBOARD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(MTBOARD_DIR)/mtboard.c $(MTBOARD_DIR)/semihost_file.c
CFLAGS_USERMOD += -I$(MTBOARD_DIR)
endif
