/* microtrain bundle reader: validates a whole .mtb file held in memory (RAM or
 * memory-mapped flash) and exposes its parts without copying them.
 * The byte layout is documented in docs/bundle-format.md.
 * Portable C99, no allocation, no globals; needs a little-endian CPU because
 * ops, tensors, swap events and the data set are used in place (so give the
 * buffer no conflicting declared type: a flash region, malloc'd or uint32_t
 * storage, as for any zero-copy image). */
#ifndef MT_BUNDLE_H
#define MT_BUNDLE_H

#include <stdint.h>
#include "mt_exec.h"
#include "mt_swap.h"

#define MT_BUNDLE_MAJOR 1
#define MT_BUNDLE_MINOR 1  /* 1: MICR section (micro-batch accumulation) */
/* Version of the op semantics in mt_program.h this runtime implements; a
 * bundle planned for other semantics is refused rather than misexecuted. */
#define MT_KERNEL_ABI_VERSION 2  /* 2: conv ops take an arena scratch slot */

#define MT_BUNDLE_HEADER_BYTES 20u
#define MT_BUNDLE_SECTION_HEADER_BYTES 12u
#define MT_BUNDLE_PROG_BYTES 52u
#define MT_BUNDLE_TRAIN_BYTES 20u
#define MT_BUNDLE_INIT_HEADER_BYTES 16u
#define MT_BUNDLE_MICRO_BYTES 4u


enum mt_init_where { MT_INIT_ARENA = 0, MT_INIT_FLASH = 1 };

enum mt_train_flags {
    MT_TRAIN_SHUFFLE = 1u << 0,     /* reshuffle the sample order every epoch */
    MT_TRAIN_EVAL_EPOCH = 1u << 1,  /* run an EVAL pass after every epoch */
    MT_TRAIN_KNOWN_FLAGS = (1u << 2) - 1u
};

typedef struct {
    uint32_t epochs;
    uint32_t iterations;           /* per epoch; 0 = n_samples / iteration_samples */
    uint32_t checkpoint_interval;  /* iterations between checkpoints; 0 = never */
    uint32_t shuffle_seed;
    uint32_t flags;                /* enum mt_train_flags */
} mt_train_settings;

/* One initial value: nbytes bytes to copy to arena or flash offset. */
typedef struct {
    uint32_t tensor;
    uint32_t where;                /* enum mt_init_where */
    uint32_t offset;
    uint32_t nbytes;
    const uint8_t *bytes;
} mt_init_record;

typedef struct {
    uint16_t major, minor;
    mt_program program;            /* ops and tensors point into the buffer */
    uint32_t batch;                /* samples per pass (the input tensor's rows) */
    uint32_t iteration_samples;    /* batch x program.micro_batches: samples per iteration */
    uint32_t x_numel;              /* float32 input elements per sample */
    uint32_t label_kind;           /* enum mt_label */
    uint32_t y_bytes;              /* label bytes per sample */
    uint32_t flash_bytes;          /* swap/flash store the bundle needs */
    uint32_t kernel_abi;
    const mt_swap_event *swap_events;  /* NULL when there is no SWAP section */
    uint32_t n_swap_events;
    const uint8_t *init;           /* INIT payload; walk it with mt_bundle_next_init */
    uint32_t init_bytes;
    uint32_t n_init;
    mt_train_settings train;
    int has_data;
    mt_dataset data;               /* x and y point into the buffer when has_data */
    int has_test;
    mt_dataset test;               /* held-out samples (optional "test" section) when has_test */
    const char *model_json;        /* UTF-8, not NUL-terminated */
    uint32_t model_json_len;
    const char *names_json;        /* NULL when there is no NAME section */
    uint32_t names_json_len;
} mt_bundle;

/* Validates buf[0, len) completely and fills *out. buf must be 4-byte aligned
 * and outlive *out. On failure returns an MT_ERR_BUNDLE_* status, writes a message
 * naming the problem into err (if err_len > 0) and leaves *out unusable. */
mt_status mt_bundle_open(const uint8_t *buf, uint32_t len, mt_bundle *out, char *err, uint32_t err_len);

/* Iterates INIT records of an opened bundle: start with *cursor = 0; returns
 * 1 and fills *rec while records remain, then 0. */
int mt_bundle_next_init(const mt_bundle *bundle, uint32_t *cursor, mt_init_record *rec);

/* CRC-32 (IEEE 802.3, as zlib.crc32): pass 0 to start, the previous result to continue. */
uint32_t mt_crc32(uint32_t crc, const uint8_t *data, uint32_t len);

#endif
