// The agent's QEMU port: ports/qemu's configuration (littlefs and the frozen agent come from
// the Makefile) plus the C crc32 the protocol wants and os.urandom for the link's first seq.
#include "ports/qemu/mpconfigport.h"

#define MICROPY_PY_BINASCII_CRC32   (1)
#define MICROPY_PY_OS_URANDOM       (1)
