/* microtrain storage backend over a caller-provided byte buffer: synchronous,
 * deterministic. Stands in for flash in MCU tests under QEMU and host tests. */
#ifndef MT_STORAGE_RAM_H
#define MT_STORAGE_RAM_H

#include <stdint.h>
#include "mt_swap.h"

typedef struct {
    uint8_t *bytes;     /* the "flash": caller memory */
    uint32_t size;
} mt_storage_ram;

void mt_storage_ram_init(mt_storage_ram *ram, uint8_t *bytes, uint32_t size);
/* The mt_storage interface with ctx = ram. */
mt_storage mt_storage_ram_interface(mt_storage_ram *ram);

#endif
