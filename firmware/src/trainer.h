/* One loaded bundle on the C executor: the arena (all SRAM left after data,
 * bss and stack), the swap store in flash, each persistent tensor's home and
 * the data set being trained on. The board/trainer.py of the firmware. */
#ifndef TRAINER_H
#define TRAINER_H

#include <stdint.h>
#include "flash.h"
#include "mt_bundle.h"
#include "mt_swap.h"

#define TRAINER_MAX_SAMPLES 2048u   /* the epoch order lives in SRAM: 4 bytes per sample */

typedef struct {
    mt_bundle bundle;
    const uint8_t *bundle_bytes;
    uint32_t bundle_len;
    uint32_t bundle_crc;
    uint8_t *arena;
    flash_file swap_file;
    mt_storage storage;
    mt_swap_runtime swap;
    mt_hooks hooks;
    int has_swap;
    mt_dataset data;
} trainer;

uint32_t trainer_ram_bytes(void);   /* arena capacity: what INFO reports */
/* Opens a mapped bundle -> 0, or fills err and returns -1. */
int trainer_load(trainer *t, const uint8_t *bytes, uint32_t len, char *err, uint32_t err_len);
void trainer_close(trainer *t);
int trainer_reset(trainer *t);      /* every persistent tensor to its INIT value */
/* Bytes [offset, offset+n) of tensor tid at its home (arena or swap flash). */
int trainer_tensor_io(trainer *t, uint32_t tid, uint32_t offset, uint8_t *buf, uint32_t n, int write);
uint32_t trainer_tensor_bytes(const trainer *t, uint32_t tid);
int trainer_train(trainer *t, const int32_t *order, uint32_t first_batch, uint32_t n_iter,
                  double *loss, double *correct);
void trainer_swap_bytes(const trainer *t, uint32_t *read, uint32_t *written);

#endif
