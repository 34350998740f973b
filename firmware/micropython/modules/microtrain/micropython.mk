# _microtrain: the microtrain C core as a MicroPython user C module.
# Build MicroPython with USER_C_MODULES=<repo>/firmware/micropython/modules.
# The core's sources are compiled in place from the repository (never copied),
# with the flags that make their floats bit-identical to the host build
# (setup.py): no fused multiply-add, float literals as written (the qemu port's
# -fsingle-precision-constant would change them), no errno from sqrtf.
MICROTRAIN_MOD_DIR := $(USERMOD_DIR)
MICROTRAIN_CORE_DIR := $(abspath $(MICROTRAIN_MOD_DIR)/../../../../core_cy/src)
MICROTRAIN_CORE_SRC := $(sort $(wildcard $(MICROTRAIN_CORE_DIR)/*.c))
MICROTRAIN_CORE_FLAGS := -ffp-contract=off -fno-single-precision-constant -fno-math-errno

ifeq ($(MICROTRAIN_CORE_SRC),)
$(error _microtrain: no C core found at $(MICROTRAIN_CORE_DIR))
endif

SRC_USERMOD_C += $(addprefix $(MICROTRAIN_MOD_DIR)/, \
	mod_microtrain.c bundle.c executor.c stream_storage.c train_sums.c)
# Library sources: compiled, not scanned for qstrs (the core has none).
SRC_USERMOD_LIB_C += $(MICROTRAIN_CORE_SRC)
CFLAGS_USERMOD += -I$(MICROTRAIN_MOD_DIR) -I$(MICROTRAIN_CORE_DIR)

# Bare-metal ports (qemu, stm32) link MicroPython's own libm in one precision only,
# but the core needs both sqrtf and double sqrt: libm_fill.c adds the missing one as a
# weak symbol. Hosted ports (unix) leave MICROPY_FLOAT_IMPL unset: the C library has both.
ifneq ($(filter float double,$(MICROPY_FLOAT_IMPL)),)
MICROTRAIN_LIBM_SRC := $(MICROTRAIN_MOD_DIR)/libm_fill.c
SRC_USERMOD_LIB_C += $(MICROTRAIN_LIBM_SRC)
endif

# Per-object flags: the core and the module's own float code (train_sums.c).
# Object paths as py/py.mk derives them (absolute sources land under $(BUILD)/).
MICROTRAIN_FP_OBJ := $(addprefix $(BUILD)/, $(MICROTRAIN_CORE_SRC:.c=.o)) \
	$(BUILD)/microtrain/train_sums.o $(BUILD)/microtrain/executor.o $(BUILD)/microtrain/libm_fill.o
$(MICROTRAIN_FP_OBJ): CFLAGS += $(MICROTRAIN_CORE_FLAGS)
