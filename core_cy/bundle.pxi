# Bundle reading for Python: the C reader (src/mt_bundle.c) validates, this
# layer only copies the validated parts into numpy arrays and Python values.
# Included by _core.pyx after its mt_program / mt_exec declarations.
import json as _json
from collections import namedtuple as _namedtuple

cdef extern from "src/mt_bundle.h":
    ctypedef struct mt_train_settings:
        uint32_t epochs
        uint32_t iterations
        uint32_t checkpoint_interval
        uint32_t shuffle_seed
        uint32_t flags
    ctypedef struct mt_init_record:
        uint32_t tensor
        uint32_t where
        uint32_t offset
        uint32_t nbytes
        const uint8_t *bytes
    ctypedef struct mt_bundle:
        uint16_t major
        uint16_t minor
        mt_program program
        uint32_t batch
        uint32_t iteration_samples
        uint32_t x_numel
        uint32_t label_kind
        uint32_t y_bytes
        uint32_t flash_bytes
        uint32_t kernel_abi
        const void *swap_events
        uint32_t n_swap_events
        uint32_t n_init
        mt_train_settings train
        int has_data
        mt_dataset data
        int has_test
        mt_dataset test
        const char *model_json
        uint32_t model_json_len
        const char *names_json
        uint32_t names_json_len
    int MT_BUNDLE_MAJOR
    int MT_BUNDLE_MINOR
    int MT_KERNEL_ABI_VERSION
    int MT_BUNDLE_HEADER_BYTES
    int MT_BUNDLE_SECTION_HEADER_BYTES
    int MT_BUNDLE_PROG_BYTES
    int MT_BUNDLE_TRAIN_BYTES
    int MT_BUNDLE_INIT_HEADER_BYTES
    int MT_BUNDLE_MICRO_BYTES
    enum:
        MT_INIT_ARENA
        MT_INIT_FLASH
        MT_TRAIN_SHUFFLE
        MT_TRAIN_EVAL_EPOCH
        MT_TRAIN_KNOWN_FLAGS
    int mt_bundle_open(const uint8_t *buf, uint32_t len, mt_bundle *out,
                       char *err, uint32_t err_len) nogil
    int mt_bundle_next_init(const mt_bundle *bundle, uint32_t *cursor,
                            mt_init_record *rec) nogil

# Field offsets straight from the compiler, so the record dtypes below are
# derived from the C structs rather than written down a second time.
cdef extern from *:
    """
    #include <stddef.h>
    #define MTB_OP_OFFSETS {offsetof(mt_op, kind), offsetof(mt_op, phase), \
        offsetof(mt_op, reserved), offsetof(mt_op, t), offsetof(mt_op, p), offsetof(mt_op, f)}
    #define MTB_TENSOR_OFFSETS {offsetof(mt_tensor, offset), offsetof(mt_tensor, nbytes)}
    #define MTB_SWAP_OFFSETS {offsetof(mt_swap_event, op), offsetof(mt_swap_event, when), \
        offsetof(mt_swap_event, action), offsetof(mt_swap_event, tag), \
        offsetof(mt_swap_event, arena_offset), offsetof(mt_swap_event, flash_offset), \
        offsetof(mt_swap_event, nbytes)}
    static const size_t mtb_op_offsets[6] = MTB_OP_OFFSETS;
    static const size_t mtb_tensor_offsets[2] = MTB_TENSOR_OFFSETS;
    static const size_t mtb_swap_offsets[7] = MTB_SWAP_OFFSETS;
    static const size_t mtb_record_sizes[3] = {sizeof(mt_op), sizeof(mt_tensor), sizeof(mt_swap_event)};
    """
    const size_t mtb_op_offsets[6]
    const size_t mtb_tensor_offsets[2]
    const size_t mtb_swap_offsets[7]
    const size_t mtb_record_sizes[3]


cdef object _c_dtype(list names, list formats, const size_t *offsets, size_t itemsize):
    return np.dtype({"names": names, "formats": formats,
                     "offsets": [offsets[i] for i in range(len(names))], "itemsize": itemsize})


BUNDLE_OP_DTYPE = _c_dtype(["kind", "phase", "reserved", "t", "p", "f"],
                           ["<u2", "u1", "u1", ("<i4", (8,)), ("<i4", (16,)), ("<f4", (4,))],
                           mtb_op_offsets, mtb_record_sizes[0])
BUNDLE_TENSOR_DTYPE = _c_dtype(["offset", "nbytes"], ["<u4", "<u4"],
                               mtb_tensor_offsets, mtb_record_sizes[1])
BUNDLE_SWAP_EVENT_DTYPE = _c_dtype(
    ["op", "when", "action", "tag", "arena_offset", "flash_offset", "nbytes"],
    ["<u4", "u1", "u1", "<u2", "<u4", "<u4", "<u4"], mtb_swap_offsets, mtb_record_sizes[2])
BUNDLE_FORMAT_VERSION = (MT_BUNDLE_MAJOR, MT_BUNDLE_MINOR)
KERNEL_ABI_VERSION = MT_KERNEL_ABI_VERSION
# Numbers the bundle format shares with the C reader (src/mt_bundle.h, mt_swap.h).
BUNDLE_CONSTANTS = {
    "WHERE_ARENA": MT_INIT_ARENA, "WHERE_FLASH": MT_INIT_FLASH,
    "TRAIN_SHUFFLE": MT_TRAIN_SHUFFLE, "TRAIN_EVAL_EPOCH": MT_TRAIN_EVAL_EPOCH,
    "TRAIN_KNOWN_FLAGS": MT_TRAIN_KNOWN_FLAGS,
    "SWAP_BEFORE_OP": MT_SWAP_BEFORE_OP, "SWAP_AFTER_OP": MT_SWAP_AFTER_OP,
    "SWAP_READ_START": MT_SWAP_READ_START, "SWAP_READ_WAIT": MT_SWAP_READ_WAIT,
    "SWAP_WRITE": MT_SWAP_WRITE, "SWAP_MAX_READS_QUEUED": MT_SWAP_MAX_READS_QUEUED,
    "HEADER_BYTES": MT_BUNDLE_HEADER_BYTES, "SECTION_HEADER_BYTES": MT_BUNDLE_SECTION_HEADER_BYTES,
    "PROG_BYTES": MT_BUNDLE_PROG_BYTES, "TRAIN_BYTES": MT_BUNDLE_TRAIN_BYTES,
    "INIT_HEADER_BYTES": MT_BUNDLE_INIT_HEADER_BYTES, "MICRO_BYTES": MT_BUNDLE_MICRO_BYTES,
}


class BundleError(ValueError):
    """The bundle is not one the device would run; the message says why."""


BundleView = _namedtuple("BundleView", [
    "major", "minor", "n_ops", "n_tensors", "arena_bytes", "input", "labels", "metrics",
    "output", "batch", "x_numel", "label_kind", "y_bytes", "flash_bytes", "kernel_abi",
    "ops", "tensors", "swap_events", "init", "train", "dataset", "model", "names",
    "test_dataset", "micro_batches", "iteration_samples"], defaults=(None, 1, None))
BundleInitRecord = _namedtuple("BundleInitRecord", ["tensor", "where", "offset", "data"])
BundleTrainSettings = _namedtuple("BundleTrainSettings", [
    "epochs", "iterations", "checkpoint_interval", "shuffle_seed", "flags"])
BundleDataset = _namedtuple("BundleDataset", ["x", "y"])


cdef object _aligned_copy(data):
    """The reader needs a 4-byte aligned buffer: copy into one."""
    src = np.frombuffer(data, dtype=np.uint8)
    raw = np.zeros(src.size + 8, dtype=np.uint8)
    start = (-raw.ctypes.data) % 4
    buf = raw[start:start + src.size]
    buf[:] = src
    return raw[start:start + max(src.size, 4)], src.size


cdef object _records(buf, const uint8_t *base, const void *ptr, uint32_t count, dtype):
    offset = <size_t>(<const uint8_t *>ptr - base)
    return np.frombuffer(buf, dtype=dtype, count=count, offset=offset).copy()


cdef list _init_records(const mt_bundle *b):
    cdef uint32_t cursor = 0
    cdef mt_init_record rec
    records = []
    while mt_bundle_next_init(b, &cursor, &rec):
        records.append(BundleInitRecord(rec.tensor, rec.where, rec.offset,
                                        rec.bytes[:rec.nbytes] if rec.nbytes else b""))
    return records


cdef object _dataset(buf, const uint8_t *base, const mt_bundle *b, const mt_dataset *d):
    cdef uint32_t n = d.n_samples
    x = _records(buf, base, d.x, n * b.x_numel, np.dtype("<f4")).reshape(n, b.x_numel)
    if b.label_kind == MT_LABEL_INDEX:
        y = _records(buf, base, d.y, n, np.dtype("<i4"))
    else:
        y = _records(buf, base, d.y, n * (b.y_bytes // 4), np.dtype("<f4")).reshape(n, b.y_bytes // 4)
    return BundleDataset(x, y)


cdef object _json_section(const char *text, uint32_t length, str tag):
    try:
        return _json.loads(text[:length].decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise BundleError("section %s: not valid UTF-8 JSON (%s)" % (tag, exc.__class__.__name__)) from None


cdef object _model_and_names(const mt_bundle *b):
    model = _json_section(b.model_json, b.model_json_len, "MODL")
    if not isinstance(model, dict):
        raise BundleError("section MODL: must be a JSON object")
    if b.names_json == NULL:
        return model, None
    names = _json_section(b.names_json, b.names_json_len, "NAME")
    if (not isinstance(names, list) or len(names) != b.program.n_tensors
            or not all(isinstance(name, str) for name in names)):
        raise BundleError("section NAME: must be a list of %d strings" % b.program.n_tensors)
    return model, names


def read_bundle(data):
    """Validates a bundle with the device's C reader and returns a BundleView
    of copies; raises BundleError naming the first problem found."""
    buf, length = _aligned_copy(data)
    if length > 0xFFFFFFFF:
        raise BundleError("bundle of %d bytes exceeds the 4 GiB format limit" % length)
    cdef const uint8_t[::1] view = buf
    cdef const uint8_t *base = &view[0]
    cdef mt_bundle b
    cdef char err[256]
    cdef int status
    cdef uint32_t n_bytes = length
    with nogil:
        status = mt_bundle_open(base, n_bytes, &b, err, sizeof(err))
    if status != 0:
        raise BundleError(err.decode("utf-8", "replace"))
    model, names = _model_and_names(&b)
    swap = None
    if b.swap_events != NULL:
        swap = _records(buf, base, b.swap_events, b.n_swap_events, BUNDLE_SWAP_EVENT_DTYPE)
    p = b.program
    return BundleView(
        b.major, b.minor, p.n_ops, p.n_tensors, p.arena_bytes, p.input, p.labels, p.metrics,
        p.output, b.batch, b.x_numel, b.label_kind, b.y_bytes, b.flash_bytes, b.kernel_abi,
        _records(buf, base, p.ops, p.n_ops, BUNDLE_OP_DTYPE),
        _records(buf, base, p.tensors, p.n_tensors, BUNDLE_TENSOR_DTYPE),
        swap, _init_records(&b),
        BundleTrainSettings(b.train.epochs, b.train.iterations, b.train.checkpoint_interval,
                            b.train.shuffle_seed, b.train.flags),
        _dataset(buf, base, &b, &b.data) if b.has_data else None, model, names,
        _dataset(buf, base, &b, &b.test) if b.has_test else None,
        p.micro_batches, b.iteration_samples)
