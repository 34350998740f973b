/* Two-slot checkpoints (ckpt_a.bin, ckpt_b.bin), byte for byte the format of
 * board/checkpoint.py: a write goes to the invalid or older slot through a
 * temp file and an atomic rename, so one valid slot survives any power cut. */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include <stdint.h>
#include "trainer.h"

typedef struct {
    uint32_t seq, bundle_crc, data_crc, iteration, epoch, target_epochs, target_iterations,
        per_epoch, checkpoint_every, state;
} checkpoint_info;

/* Writes the persistent tensors of t with info (seq is assigned) -> 0 or -1. */
int checkpoint_write(trainer *t, checkpoint_info *info);
/* Newest valid checkpoint of bundle_crc -> slot file name, or NULL; fills *info. */
const char *checkpoint_newest(uint32_t bundle_crc, checkpoint_info *info);
/* Loads the tensors of a slot into t's homes -> 0, -1 if they do not fit the bundle. */
int checkpoint_restore(trainer *t, const char *slot);

#endif
