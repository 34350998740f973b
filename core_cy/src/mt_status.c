/* Text for each status code: the one place the messages are written. */
#include "mt_status.h"

static const char *const status_text[MT_STATUS_COUNT] = {
    "ok",
    "bad op (unknown kind, arity, phase or parameters)",
    "tensor id out of range or tensor outside the arena",
    "tensor smaller than the op's parameters need",
    "storage (swap) I/O failed",
    "an op writes bytes it also reads (overlapping tensors)",
    "sample index or label out of range",
    "swap event outside the arena or storage, unsorted, or too many reads queued",
    "bundle buffer is NULL or misaligned, or the CPU is big-endian",
    "bundle header is damaged (magic, CRC or length)",
    "bundle format or kernel ABI version not supported",
    "bundle section damaged (bounds, CRC, tag or duplicate)",
    "bundle section content inconsistent",
    "bundle program refused by validation",
};

const char *mt_status_str(mt_status status)
{
    if ((unsigned)status >= (unsigned)MT_STATUS_COUNT) return "unknown status";
    return status_text[status];
}
