/* Board side of UPLOAD_BEGIN/CHUNK/END (protocol/upload_service.py): one upload
 * at a time, identified by (kind, size, crc), resumable within one boot; the
 * bytes go straight to the flash temp file, never into SRAM. */
#ifndef UPLOADS_H
#define UPLOADS_H

#include <stdint.h>
#include "flash.h"
#include "link.h"

typedef struct {
    int active;
    uint8_t kind;
    uint32_t total, crc_expected, held, crc;
    int gap, storage_error;
    flash_file file;
} upload_state;

/* Decides on a complete, CRC-checked upload in FLASH_UPLOAD_TEMP -> reason;
 * a rejection's text (if any) goes into text. */
typedef uint8_t (*upload_accept_fn)(uint8_t kind, char *text, uint32_t text_len);

void uploads_init(upload_state *up);
void uploads_abandon(upload_state *up);
/* Serves message if it is an UPLOAD_* one -> 1, else 0. log_error sends a LOG ERROR. */
int uploads_handle(upload_state *up, link_state *link, const link_msg *msg, upload_accept_fn accept,
                   void (*log_error)(const char *text));

#endif
