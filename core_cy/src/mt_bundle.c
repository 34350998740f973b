/* Bundle reader: every byte is checked before anything points at it.
 * Offsets and sizes are compared in 64 bits (or by division) so a hostile
 * length can never wrap around a bounds check. */
#include <string.h>
#include "mt_bundle.h"
#include "mt_format.h"

/* The structs are used in place, so their sizes are part of the format. */
typedef char mt_op_is_116_bytes[sizeof(mt_op) == 116 ? 1 : -1];
typedef char mt_tensor_is_8_bytes[sizeof(mt_tensor) == 8 ? 1 : -1];
typedef char mt_swap_event_is_20_bytes[sizeof(mt_swap_event) == 20 ? 1 : -1];

enum section_id { SEC_PROG, SEC_OPS, SEC_TENS, SEC_SWAP, SEC_INIT, SEC_TRAN, SEC_DATA,
                  SEC_MODL, SEC_NAME, SEC_TEST, SEC_MICR, SEC_COUNT };

static const char section_tags[SEC_COUNT][5] = {
    "PROG", "OPS ", "TENS", "SWAP", "INIT", "TRAN", "DATA", "MODL", "NAME", "test", "MICR"};
/* "test" (held-out samples) is lowercase: optional, so older readers skip it.
 * "MICR" (micro-batches) is uppercase: a reader that would not accumulate must refuse. */
static const uint8_t section_required[SEC_COUNT] = {1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0};

typedef struct {
    const uint8_t *payload[SEC_COUNT];  /* NULL: section absent */
    uint32_t length[SEC_COUNT];
} section_table;

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du
};

uint32_t mt_crc32(uint32_t crc, const uint8_t *data, uint32_t len)
{
    crc = ~crc;
    for (uint32_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int fail(char *err, uint32_t err_len, int status, const char *fmt, ...)
{
    if (err && err_len > 0) {
        va_list args;
        va_start(args, fmt);
        mt_vformat(err, err_len, fmt, args);
        va_end(args);
    }
    return status;
}

/* count * size <= avail, without computing a product that could overflow. */
static int fits(uint64_t count, uint64_t size, uint64_t avail)
{
    return size == 0 || count <= avail / size;
}

/* a * b * c when it fits in 32 bits, else UINT64_MAX (never equal to a u32). */
static uint64_t product3(uint32_t a, uint32_t b, uint32_t c)
{
    uint64_t ab = (uint64_t)a * b;
    if (ab > 0xFFFFFFFFu) return UINT64_MAX;
    return ab * c;
}

static uint32_t padded(uint32_t length)
{
    return (uint32_t)(((uint64_t)length + 3u) & ~(uint64_t)3u);
}

static int little_endian_cpu(void)
{
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1;
}

/* ---- container: header and section table ---- */

#define ERR err, err_len

static int check_header(const uint8_t *buf, uint32_t len, uint32_t *total, uint32_t *count,
                        mt_bundle *out, char *err, uint32_t err_len)
{
    if (len < MT_BUNDLE_HEADER_BYTES)
        return fail(ERR, MT_ERR_BUNDLE_HEADER, "truncated: %u bytes, the header needs %u",
                    (unsigned)len, (unsigned)MT_BUNDLE_HEADER_BYTES);
    if (memcmp(buf, "MTBF", 4) != 0)
        return fail(ERR, MT_ERR_BUNDLE_HEADER, "bad magic: not a microtrain bundle");
    uint32_t stored = rd32(buf + 16), computed = mt_crc32(0, buf, 16);
    if (stored != computed)
        return fail(ERR, MT_ERR_BUNDLE_HEADER, "header: CRC mismatch (stored 0x%08x, computed 0x%08x)",
                    (unsigned)stored, (unsigned)computed);
    out->major = rd16(buf + 4);
    out->minor = rd16(buf + 6);
    if (out->major != MT_BUNDLE_MAJOR)
        return fail(ERR, MT_ERR_BUNDLE_VERSION, "unsupported format version %u.%u (this reader: %u.x)",
                    (unsigned)out->major, (unsigned)out->minor, (unsigned)MT_BUNDLE_MAJOR);
    *count = rd32(buf + 8);
    *total = rd32(buf + 12);
    if (*total < MT_BUNDLE_HEADER_BYTES || *total % 4u)
        return fail(ERR, MT_ERR_BUNDLE_HEADER, "header: bad total length %u", (unsigned)*total);
    if (*total > len)
        return fail(ERR, MT_ERR_BUNDLE_HEADER, "truncated: header says %u bytes, buffer has %u",
                    (unsigned)*total, (unsigned)len);
    return MT_OK;
}

/* Tags print safely in messages even when they are garbage. */
static void printable_tag(const uint8_t *tag, char *text)
{
    for (int i = 0; i < 4; i++) text[i] = (tag[i] >= 0x20 && tag[i] < 0x7F) ? (char)tag[i] : '?';
    text[4] = '\0';
}

static int known_section(const uint8_t *tag)
{
    for (int id = 0; id < SEC_COUNT; id++)
        if (memcmp(tag, section_tags[id], 4) == 0) return id;
    return -1;
}

/* Known tag: store it. Unknown tag: skip if its first letter is lowercase
 * (optional, added by a later minor version), refuse if uppercase. */
static int file_section(section_table *table, const uint8_t *tag, const uint8_t *payload,
                        uint32_t length, char *err, uint32_t err_len)
{
    char text[5];
    printable_tag(tag, text);
    for (int i = 0; i < 4; i++)
        if (tag[i] < 0x20 || tag[i] >= 0x7F)
            return fail(ERR, MT_ERR_BUNDLE_SECTION, "section '%s': tag is not printable ASCII", text);
    int id = known_section(tag);
    if (id < 0) {
        if (tag[0] >= 'a' && tag[0] <= 'z') return MT_OK;
        if (tag[0] >= 'A' && tag[0] <= 'Z')
            return fail(ERR, MT_ERR_BUNDLE_SECTION, "section '%s': unknown mandatory section", text);
        return fail(ERR, MT_ERR_BUNDLE_SECTION, "section '%s': tag must start with a letter", text);
    }
    if (table->payload[id])
        return fail(ERR, MT_ERR_BUNDLE_SECTION, "section %s: appears more than once", section_tags[id]);
    table->payload[id] = payload;
    table->length[id] = length;
    return MT_OK;
}

/* The section CRC covers tag, length and the padded payload, so every byte
 * after the file header is protected by some CRC. */
static int check_section(const uint8_t *buf, uint32_t pos, uint32_t total, uint32_t index,
                         uint32_t *next, section_table *table, char *err, uint32_t err_len)
{
    if ((uint64_t)pos + MT_BUNDLE_SECTION_HEADER_BYTES > total)
        return fail(ERR, MT_ERR_BUNDLE_SECTION, "section %u at offset %u: header runs past the end",
                    (unsigned)index, (unsigned)pos);
    const uint8_t *head = buf + pos;
    uint32_t length = rd32(head + 4);
    uint64_t end = (uint64_t)pos + MT_BUNDLE_SECTION_HEADER_BYTES + padded(length);
    char text[5];
    printable_tag(head, text);
    if (length > 0xFFFFFFFCu || end > total)
        return fail(ERR, MT_ERR_BUNDLE_SECTION, "section %u '%s' at offset %u: %u bytes run past the end",
                    (unsigned)index, text, (unsigned)pos, (unsigned)length);
    const uint8_t *payload = head + MT_BUNDLE_SECTION_HEADER_BYTES;
    uint32_t computed = mt_crc32(mt_crc32(0, head, 8), payload, padded(length));
    if (computed != rd32(head + 8))
        return fail(ERR, MT_ERR_BUNDLE_SECTION, "section %s: CRC mismatch (stored 0x%08x, computed 0x%08x)",
                    text, (unsigned)rd32(head + 8), (unsigned)computed);
    *next = (uint32_t)end;
    return file_section(table, head, payload, length, ERR);
}

static int scan_sections(const uint8_t *buf, uint32_t total, uint32_t count, section_table *table,
                         char *err, uint32_t err_len)
{
    uint32_t pos = MT_BUNDLE_HEADER_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        int status = check_section(buf, pos, total, i, &pos, table, ERR);
        if (status != MT_OK) return status;
    }
    if (pos != total)
        return fail(ERR, MT_ERR_BUNDLE_SECTION, "%u sections end at byte %u but the header says %u",
                    (unsigned)count, (unsigned)pos, (unsigned)total);
    for (int id = 0; id < SEC_COUNT; id++)
        if (section_required[id] && !table->payload[id])
            return fail(ERR, MT_ERR_BUNDLE_SECTION, "section %s: missing", section_tags[id]);
    return MT_OK;
}

/* ---- PROG, TENS, OPS ---- */

static int read_prog(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    const uint8_t *p = table->payload[SEC_PROG];
    if (table->length[SEC_PROG] != MT_BUNDLE_PROG_BYTES)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section PROG: %u bytes, expected %u",
                    (unsigned)table->length[SEC_PROG], (unsigned)MT_BUNDLE_PROG_BYTES);
    mt_program *prog = &out->program;
    prog->n_ops = rd32(p + 0);
    prog->n_tensors = rd32(p + 4);
    prog->arena_bytes = rd32(p + 8);
    prog->input = (int32_t)rd32(p + 12);
    prog->labels = (int32_t)rd32(p + 16);
    prog->metrics = (int32_t)rd32(p + 20);
    prog->output = (int32_t)rd32(p + 24);
    out->batch = rd32(p + 28);
    out->x_numel = rd32(p + 32);
    out->label_kind = rd32(p + 36);
    out->y_bytes = rd32(p + 40);
    out->flash_bytes = rd32(p + 44);
    out->kernel_abi = rd32(p + 48);
    if (out->kernel_abi != MT_KERNEL_ABI_VERSION)
        return fail(ERR, MT_ERR_BUNDLE_VERSION, "PROG: kernel ABI %u, this runtime implements %u",
                    (unsigned)out->kernel_abi, (unsigned)MT_KERNEL_ABI_VERSION);
    return MT_OK;
}

static int check_record_count(const char *tag, uint32_t length, uint32_t count, uint32_t size,
                              char *err, uint32_t err_len)
{
    if ((uint64_t)count * size != length)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section %s: %u bytes, PROG says %u records of %u bytes",
                    tag, (unsigned)length, (unsigned)count, (unsigned)size);
    return MT_OK;
}

static int read_tensors(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    mt_program *prog = &out->program;
    int status = check_record_count("TENS", table->length[SEC_TENS], prog->n_tensors,
                                    (uint32_t)sizeof(mt_tensor), ERR);
    if (status != MT_OK) return status;
    prog->tensors = (const mt_tensor *)(const void *)table->payload[SEC_TENS];
    for (uint32_t i = 0; i < prog->n_tensors; i++) {
        const mt_tensor *t = &prog->tensors[i];
        if (t->offset % 4u)
            return fail(ERR, MT_ERR_BUNDLE_CONTENT, "tensor %u: offset %u is not 4-byte aligned",
                        (unsigned)i, (unsigned)t->offset);
        if ((uint64_t)t->offset + t->nbytes > prog->arena_bytes)
            return fail(ERR, MT_ERR_BUNDLE_CONTENT, "tensor %u: [%u, +%u) lies outside the %u-byte arena",
                        (unsigned)i, (unsigned)t->offset, (unsigned)t->nbytes, (unsigned)prog->arena_bytes);
    }
    return MT_OK;
}

/* Container-level op checks give exact messages; op semantics are then left
 * to mt_op_validate, the executor's own authority. */
static int check_op(const mt_program *prog, uint32_t index, char *err, uint32_t err_len)
{
    const mt_op *op = &prog->ops[index];
    if (op->reserved != 0)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "op %u: reserved byte is %u, must be 0",
                    (unsigned)index, (unsigned)op->reserved);
    for (int slot = 0; slot < MT_OP_MAX_TENSORS; slot++) {
        int32_t id = op->t[slot];
        if (id != MT_NO_TENSOR && (id < 0 || (uint32_t)id >= prog->n_tensors))
            return fail(ERR, MT_ERR_BUNDLE_CONTENT, "op %u: tensor id %d out of range (%u tensors)",
                        (unsigned)index, (int)id, (unsigned)prog->n_tensors);
    }
    int status = mt_op_validate(prog, op);
    if (status != MT_OK)
        return fail(ERR, MT_ERR_BUNDLE_PROGRAM, "op %u (kind %u, phase %u): %s",
                    (unsigned)index, (unsigned)op->kind, (unsigned)op->phase, mt_status_str((mt_status)status));
    return MT_OK;
}

static int check_role(const mt_program *prog, const char *role, int32_t id, char *err, uint32_t err_len)
{
    if (id < 0 || (uint32_t)id >= prog->n_tensors)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "PROG: %s tensor id %d out of range (%u tensors)",
                    role, (int)id, (unsigned)prog->n_tensors);
    return MT_OK;
}

static int read_ops(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    mt_program *prog = &out->program;
    int status = check_record_count("OPS ", table->length[SEC_OPS], prog->n_ops,
                                    (uint32_t)sizeof(mt_op), ERR);
    if (status != MT_OK) return status;
    prog->ops = (const mt_op *)(const void *)table->payload[SEC_OPS];
    for (uint32_t i = 0; i < prog->n_ops && status == MT_OK; i++)
        status = check_op(prog, i, ERR);
    if (status == MT_OK) status = check_role(prog, "input", prog->input, ERR);
    if (status == MT_OK) status = check_role(prog, "labels", prog->labels, ERR);
    if (status == MT_OK) status = check_role(prog, "metrics", prog->metrics, ERR);
    if (status == MT_OK) status = check_role(prog, "output", prog->output, ERR);
    if (status != MT_OK) return status;
    /* Every op passed on its own, so what is left is the role tensors' sizes. */
    status = mt_program_validate(prog);
    if (status != MT_OK)
        return fail(ERR, MT_ERR_BUNDLE_PROGRAM, "program: input/labels/metrics/output tensors: %s",
                    mt_status_str((mt_status)status));
    return MT_OK;
}

/* The loader copies whole samples, so input and labels must hold exactly
 * `batch` of them. */
static int check_batch_shape(const mt_bundle *b, char *err, uint32_t err_len)
{
    const mt_program *prog = &b->program;
    if (b->batch == 0 || b->x_numel == 0)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "PROG: batch %u and x_numel %u must be > 0",
                    (unsigned)b->batch, (unsigned)b->x_numel);
    if (b->label_kind == MT_LABEL_INDEX ? b->y_bytes != 4u
        : b->label_kind != MT_LABEL_DENSE || b->y_bytes == 0 || b->y_bytes % 4u)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "PROG: label kind %u with %u label bytes per sample",
                    (unsigned)b->label_kind, (unsigned)b->y_bytes);
    uint32_t input_bytes = prog->tensors[prog->input].nbytes;
    if (product3(b->batch, b->x_numel, 4u) != input_bytes)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "PROG: input tensor has %u bytes, batch %u x %u floats needs %llu",
                    (unsigned)input_bytes, (unsigned)b->batch, (unsigned)b->x_numel,
                    (unsigned long long)product3(b->batch, b->x_numel, 4u));
    uint32_t label_bytes = prog->tensors[prog->labels].nbytes;
    if (product3(b->batch, b->y_bytes, 1u) != label_bytes)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "PROG: labels tensor has %u bytes, batch %u x %u bytes needs %llu",
                    (unsigned)label_bytes, (unsigned)b->batch, (unsigned)b->y_bytes,
                    (unsigned long long)product3(b->batch, b->y_bytes, 1u));
    return MT_OK;
}

/* ---- SWAP, INIT, TRAN, DATA, MODL, NAME ---- */

/* The runtime's own check (mt_swap_check) decides; this adds the details. */
static int swap_fault(const mt_bundle *b, const mt_swap_fault *fault, char *err, uint32_t err_len)
{
    const mt_swap_event *e = &b->swap_events[fault->event];
    unsigned i = (unsigned)fault->event;
    switch (fault->problem) {
    case MT_SWAP_PROBLEM_FIELDS:
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "swap event %u: op %u, when %u, action %u not valid",
                    i, (unsigned)e->op, (unsigned)e->when, (unsigned)e->action);
    case MT_SWAP_PROBLEM_ARENA:
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "swap event %u: [%u, +%u) lies outside the %u-byte arena",
                    i, (unsigned)e->arena_offset, (unsigned)e->nbytes, (unsigned)b->program.arena_bytes);
    case MT_SWAP_PROBLEM_STORAGE:
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "swap event %u: [%u, +%u) lies outside the %u-byte flash",
                    i, (unsigned)e->flash_offset, (unsigned)e->nbytes, (unsigned)b->flash_bytes);
    case MT_SWAP_PROBLEM_QUEUE:
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section SWAP: the schedule keeps %u reads queued, devices hold %u",
                    (unsigned)fault->reads_queued, (unsigned)MT_SWAP_MAX_READS_QUEUED);
    default:
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "swap event %u: %s", i, mt_swap_problem_str(fault->problem));
    }
}

static int read_swap(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    uint32_t length = table->length[SEC_SWAP];
    if (!table->payload[SEC_SWAP]) return MT_OK;
    if (length % sizeof(mt_swap_event))
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section SWAP: %u bytes is not a whole number of %u-byte events",
                    (unsigned)length, (unsigned)sizeof(mt_swap_event));
    out->swap_events = (const mt_swap_event *)(const void *)table->payload[SEC_SWAP];
    out->n_swap_events = length / (uint32_t)sizeof(mt_swap_event);
    mt_swap_limits limits = {out->program.n_ops, out->program.arena_bytes, out->flash_bytes,
                             MT_SWAP_MAX_READS_QUEUED};
    mt_swap_fault fault;
    if (mt_swap_check(out->swap_events, out->n_swap_events, &limits, &fault) != MT_OK)
        return swap_fault(out, &fault, ERR);
    return MT_OK;
}

static void decode_init(const uint8_t *p, mt_init_record *rec)
{
    rec->tensor = rd32(p);
    rec->where = rd32(p + 4);
    rec->offset = rd32(p + 8);
    rec->nbytes = rd32(p + 12);
    rec->bytes = p + MT_BUNDLE_INIT_HEADER_BYTES;
}

/* An arena record must cover its tensor exactly; a flash record (the home of
 * a swapped tensor) must hold the tensor's size and lie inside flash. */
static int check_init_target(const mt_bundle *b, const mt_init_record *rec, uint32_t index,
                             char *err, uint32_t err_len)
{
    if (rec->tensor >= b->program.n_tensors || rec->where > MT_INIT_FLASH)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "init record %u: tensor %u, where %u not valid",
                    (unsigned)index, (unsigned)rec->tensor, (unsigned)rec->where);
    const mt_tensor *t = &b->program.tensors[rec->tensor];
    if (rec->nbytes != t->nbytes)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "init record %u: %u bytes, tensor %u has %u",
                    (unsigned)index, (unsigned)rec->nbytes, (unsigned)rec->tensor, (unsigned)t->nbytes);
    if (rec->where == MT_INIT_ARENA && rec->offset != t->offset)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "init record %u: arena offset %u, tensor %u is at %u",
                    (unsigned)index, (unsigned)rec->offset, (unsigned)rec->tensor, (unsigned)t->offset);
    if (rec->where == MT_INIT_FLASH && (uint64_t)rec->offset + rec->nbytes > b->flash_bytes)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "init record %u: [%u, +%u) lies outside the %u-byte flash",
                    (unsigned)index, (unsigned)rec->offset, (unsigned)rec->nbytes, (unsigned)b->flash_bytes);
    return MT_OK;
}

static int read_init(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    out->init = table->payload[SEC_INIT];
    out->init_bytes = table->length[SEC_INIT];
    uint32_t pos = 0;
    while (pos < out->init_bytes) {
        uint32_t left = out->init_bytes - pos;
        if (left < MT_BUNDLE_INIT_HEADER_BYTES)
            return fail(ERR, MT_ERR_BUNDLE_CONTENT, "init record %u: header truncated", (unsigned)out->n_init);
        mt_init_record rec;
        decode_init(out->init + pos, &rec);
        if ((uint64_t)padded(rec.nbytes) > left - MT_BUNDLE_INIT_HEADER_BYTES || rec.nbytes > 0xFFFFFFFCu)
            return fail(ERR, MT_ERR_BUNDLE_CONTENT, "init record %u: %u bytes run past the section",
                        (unsigned)out->n_init, (unsigned)rec.nbytes);
        int status = check_init_target(out, &rec, out->n_init, ERR);
        if (status != MT_OK) return status;
        pos += MT_BUNDLE_INIT_HEADER_BYTES + padded(rec.nbytes);
        out->n_init++;
    }
    return MT_OK;
}

int mt_bundle_next_init(const mt_bundle *bundle, uint32_t *cursor, mt_init_record *rec)
{
    if (*cursor >= bundle->init_bytes) return 0;
    decode_init(bundle->init + *cursor, rec);
    *cursor += MT_BUNDLE_INIT_HEADER_BYTES + padded(rec->nbytes);
    return 1;
}

static int read_train(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    const uint8_t *p = table->payload[SEC_TRAN];
    if (table->length[SEC_TRAN] != MT_BUNDLE_TRAIN_BYTES)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section TRAN: %u bytes, expected %u",
                    (unsigned)table->length[SEC_TRAN], (unsigned)MT_BUNDLE_TRAIN_BYTES);
    out->train.epochs = rd32(p);
    out->train.iterations = rd32(p + 4);
    out->train.checkpoint_interval = rd32(p + 8);
    out->train.shuffle_seed = rd32(p + 12);
    out->train.flags = rd32(p + 16);
    if (out->train.flags & ~(uint32_t)MT_TRAIN_KNOWN_FLAGS)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section TRAN: unknown flags 0x%08x",
                    (unsigned)out->train.flags);
    return MT_OK;
}

/* MICR: u32 passes per iteration (absent: 1); the batch in PROG is per pass. */
static int read_micro_batches(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    out->program.micro_batches = 1;
    if (!table->payload[SEC_MICR]) {
        out->iteration_samples = out->batch;
        return MT_OK;
    }
    if (table->length[SEC_MICR] != MT_BUNDLE_MICRO_BYTES)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section MICR: %u bytes, expected %u",
                    (unsigned)table->length[SEC_MICR], (unsigned)MT_BUNDLE_MICRO_BYTES);
    uint32_t passes = rd32(table->payload[SEC_MICR]);
    uint64_t samples = (uint64_t)passes * out->batch;
    if (passes == 0 || samples > 0xFFFFFFFFu)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section MICR: %u micro-batches of %u samples",
                    (unsigned)passes, (unsigned)out->batch);
    out->program.micro_batches = passes;
    out->iteration_samples = (uint32_t)samples;
    return MT_OK;
}

/* DATA and test share one layout: u32 n_samples, then x (f32) and y blocks. */
static int read_samples(const section_table *table, int id, mt_bundle *out, mt_dataset *set,
                        char *err, uint32_t err_len)
{
    const uint8_t *p = table->payload[id];
    uint32_t length = table->length[id];
    const char *tag = section_tags[id];
    if (length < 4u)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section %s: %u bytes, too short", tag, (unsigned)length);
    uint32_t n = rd32(p);
    uint64_t x_bytes = (uint64_t)out->x_numel * 4u;
    uint64_t sample_bytes = x_bytes + out->y_bytes;
    if (n == 0 || !fits(n, sample_bytes, length - 4u) || (uint64_t)n * sample_bytes != length - 4u)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT,
                    "section %s: %u bytes do not hold %u samples of %u floats and %u label bytes",
                    tag, (unsigned)length, (unsigned)n, (unsigned)out->x_numel, (unsigned)out->y_bytes);
    set->n_samples = n;
    set->x_numel = out->x_numel;
    set->y_bytes = out->y_bytes;
    set->x = (const float *)(const void *)(p + 4);
    set->y = p + 4 + (size_t)n * x_bytes;
    return MT_OK;
}

static int read_data(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    int status = MT_OK;
    if (table->payload[SEC_DATA]) {
        status = read_samples(table, SEC_DATA, out, &out->data, ERR);
        out->has_data = status == MT_OK;
    }
    if (status == MT_OK && table->payload[SEC_TEST]) {
        status = read_samples(table, SEC_TEST, out, &out->test, ERR);
        out->has_test = status == MT_OK;
    }
    return status;
}

static int read_json(const section_table *table, mt_bundle *out, char *err, uint32_t err_len)
{
    if (table->length[SEC_MODL] == 0)
        return fail(ERR, MT_ERR_BUNDLE_CONTENT, "section MODL: empty");
    out->model_json = (const char *)table->payload[SEC_MODL];
    out->model_json_len = table->length[SEC_MODL];
    out->names_json = (const char *)table->payload[SEC_NAME];
    out->names_json_len = table->length[SEC_NAME];
    return MT_OK;
}

/* ---- entry point ---- */

static int open_checked(const uint8_t *buf, uint32_t len, mt_bundle *out, char *err, uint32_t err_len)
{
    uint32_t total = 0, count = 0;
    section_table table;
    memset(&table, 0, sizeof table);
    int status = check_header(buf, len, &total, &count, out, ERR);
    if (status == MT_OK) status = scan_sections(buf, total, count, &table, ERR);
    if (status == MT_OK) status = read_prog(&table, out, ERR);
    if (status == MT_OK) status = read_tensors(&table, out, ERR);
    if (status == MT_OK) status = read_ops(&table, out, ERR);
    if (status == MT_OK) status = check_batch_shape(out, ERR);
    if (status == MT_OK) status = read_micro_batches(&table, out, ERR);
    if (status == MT_OK) status = read_swap(&table, out, ERR);
    if (status == MT_OK) status = read_init(&table, out, ERR);
    if (status == MT_OK) status = read_train(&table, out, ERR);
    if (status == MT_OK) status = read_data(&table, out, ERR);
    if (status == MT_OK) status = read_json(&table, out, ERR);
    return status;
}

mt_status mt_bundle_open(const uint8_t *buf, uint32_t len, mt_bundle *out, char *err, uint32_t err_len)
{
    if (err && err_len > 0) err[0] = '\0';
    if (!out) return fail(ERR, MT_ERR_BUNDLE_ARGS, "no output struct");
    memset(out, 0, sizeof *out);
    if (!buf || (uintptr_t)buf % 4u)
        return fail(ERR, MT_ERR_BUNDLE_ARGS, "buffer must be non-NULL and 4-byte aligned");
    if (!little_endian_cpu())
        return fail(ERR, MT_ERR_BUNDLE_ARGS, "bundles are used in place and need a little-endian CPU");
    int status = open_checked(buf, len, out, ERR);
    if (status != MT_OK) memset(out, 0, sizeof *out);
    return status;
}
