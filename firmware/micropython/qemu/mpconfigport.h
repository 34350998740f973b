// The agent's QEMU port: ports/qemu's configuration plus a writable littlefs, frozen boot
// script and the time/crc pieces the agent uses.
#include "ports/qemu/mpconfigport.h"

#define MICROPY_PY_BINASCII_CRC32   (1)
#define MICROPY_PY_OS_URANDOM       (1)
