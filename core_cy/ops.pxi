# The op table and status texts from C (src/mt_ops.h, src/mt_status.h): Python
# reads op kinds, slot roles and messages from the core, never from a copy.
# Included by _core.pyx after its mt_program declarations.

cdef extern from "src/mt_status.h":
    ctypedef enum mt_status:
        MT_OK
        MT_STATUS_COUNT
    const char *mt_status_str(mt_status status)

cdef extern from "src/mt_ops.h":
    enum:
        MT_SLOT_READ
        MT_SLOT_WRITE
    ctypedef struct mt_op_info:
        uint16_t kind
        const char *name
        uint8_t max_slots
        uint8_t role[8]
        uint8_t optional
        uint8_t n_params
        uint8_t n_floats
        signed char in_place_write
        signed char in_place_read
    const mt_op_info *mt_op_at(uint32_t index)
    uint32_t mt_op_count()


cdef str _role_text(uint8_t role):
    return {MT_SLOT_READ: "r", MT_SLOT_WRITE: "w", MT_SLOT_READ | MT_SLOT_WRITE: "rw"}.get(role, "")


cdef dict _op_rows():
    cdef const mt_op_info *info
    rows = {}
    for i in range(mt_op_count()):
        info = mt_op_at(i)
        pair = None if info.in_place_write < 0 else (info.in_place_write, info.in_place_read)
        rows[info.name.decode()] = {
            "kind": info.kind,
            "roles": tuple(_role_text(info.role[s]) for s in range(info.max_slots)),
            "optional": tuple(s for s in range(info.max_slots) if (info.optional >> s) & 1),
            "n_params": info.n_params, "n_floats": info.n_floats, "in_place": pair}
    return rows


# name -> {kind, roles per slot ("r", "w", "rw"), optional slots, param and
# float counts, in-place (write slot, read slot) or None}, in table order.
OP_TABLE = _op_rows()
OP_KINDS = {name: row["kind"] for name, row in OP_TABLE.items()}
STATUS_TEXT = {code: mt_status_str(<mt_status>code).decode() for code in range(1, MT_STATUS_COUNT)}
