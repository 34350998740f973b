/* Board side of DOWNLOAD (docs/device.md): weights (MODL params in sorted key
 * order: u32 id | u32 nbytes | bytes) and the newest checkpoint of the loaded
 * bundle. A request at offset 0 snapshots the blob into a flash file, so a
 * download during training stays consistent (its CRC covers one moment). */
#ifndef DOWNLOADS_H
#define DOWNLOADS_H

#include <stdint.h>
#include "link.h"
#include "trainer.h"

typedef struct {
    int ready;
    uint32_t total, crc;
} download_snapshot;

typedef struct {
    download_snapshot snapshots[3];   /* by WHAT_* */
} downloads_state;

void downloads_forget(downloads_state *d);
/* Serves a DOWNLOAD request; t is NULL when no bundle is loaded. */
void downloads_serve(downloads_state *d, link_state *link, trainer *t, const link_msg *msg);

#endif
