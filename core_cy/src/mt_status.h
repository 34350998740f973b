/* microtrain status codes: every core function that can fail returns one.
 * mt_status_str gives the one-line text a user sees (Python raises with it). */
#ifndef MT_STATUS_H
#define MT_STATUS_H

typedef enum mt_status {
    MT_OK = 0,
    MT_ERR_BAD_OP = 1,       /* unknown kind, arity, phase or parameters */
    MT_ERR_BAD_TENSOR = 2,   /* id out of range or tensor outside the arena */
    MT_ERR_BAD_SIZE = 3,     /* tensor smaller than the op's params imply */
    MT_ERR_IO = 4,           /* storage backend failed (swap) */
    MT_ERR_ALIAS = 5,        /* an op writes bytes it also reads (not a declared in-place pair) */
    MT_ERR_BAD_DATA = 6,     /* sample index or label outside the data set / classes */
    MT_ERR_BAD_SWAP = 7,     /* swap event outside arena/storage, unsorted, or too many reads queued */
    /* the bundle reader (mt_bundle_open also writes a message naming the problem) */
    MT_ERR_BUNDLE_ARGS = 8,     /* NULL or misaligned buffer, big-endian CPU */
    MT_ERR_BUNDLE_HEADER = 9,   /* magic, header CRC, total length */
    MT_ERR_BUNDLE_VERSION = 10, /* format major or kernel ABI not supported */
    MT_ERR_BUNDLE_SECTION = 11, /* section bounds, CRC, tags, duplicates */
    MT_ERR_BUNDLE_CONTENT = 12, /* a section's payload is inconsistent */
    MT_ERR_BUNDLE_PROGRAM = 13, /* mt_program_validate refused the program */
    MT_STATUS_COUNT = 14
} mt_status;

const char *mt_status_str(mt_status status);

#endif
