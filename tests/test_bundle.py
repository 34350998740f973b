"""The .mtb bundle: Python writer -> C reader round trip, and every class of
damaged or hostile input refused with a message naming the problem."""
import os
import struct
import sys
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core_cy._core import (BUNDLE_FORMAT_VERSION, BUNDLE_OP_DTYPE, BUNDLE_SWAP_EVENT_DTYPE,
                           BUNDLE_TENSOR_DTYPE, KERNEL_ABI_VERSION, BundleError, read_bundle)
from host_tools.bundle import layout
from host_tools.bundle.content import InitRecord, TrainSettings
from host_tools.bundle.writer import assemble, content_sections, encode_bundle, write_bundle
from host_tools.swap.events import EVENT_DTYPE

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import bundle_samples as samples  # noqa: E402

FUZZ_DIR = Path(__file__).parent / "fuzz"


def rejected(data: bytes, fragment: str) -> str:
    with pytest.raises(BundleError) as info:
        read_bundle(data)
    assert fragment in str(info.value), str(info.value)
    return str(info.value)


def with_section(content, tag, payload):
    """The content's sections with `tag`'s payload replaced (or appended)."""
    sections = [(t, payload if t == tag else p) for t, p in content_sections(content)]
    if tag not in [t for t, _ in sections]:
        sections.append((tag, payload))
    return assemble(sections)


# ---- layout: the Python dtypes are the C structs ----

def test_record_dtypes_match_c_structs():
    assert layout.OP_DTYPE == BUNDLE_OP_DTYPE
    assert layout.OP_DTYPE.itemsize == BUNDLE_OP_DTYPE.itemsize == 116
    assert layout.TENSOR_DTYPE == BUNDLE_TENSOR_DTYPE
    assert layout.SWAP_EVENT_DTYPE == BUNDLE_SWAP_EVENT_DTYPE
    assert layout.SWAP_EVENT_DTYPE == EVENT_DTYPE  # the swap scheduler's own copy


def test_versions_match_c():
    assert (layout.FORMAT_MAJOR, layout.FORMAT_MINOR) == BUNDLE_FORMAT_VERSION
    assert layout.KERNEL_ABI_VERSION == KERNEL_ABI_VERSION


# ---- round trip ----

def test_round_trip_keeps_everything():
    content = samples.tiny_content()
    view = read_bundle(encode_bundle(content))
    assert (view.major, view.minor) == (layout.FORMAT_MAJOR, layout.FORMAT_MINOR)
    assert view.ops.tobytes() == content.ops.tobytes()
    assert view.tensors.tobytes() == content.tensors.tobytes()
    assert view.swap_events.tobytes() == content.swap_events.tobytes()
    for field in ("arena_bytes", "input", "labels", "metrics", "output", "batch", "x_numel",
                  "label_kind", "y_bytes", "flash_bytes", "kernel_abi"):
        assert getattr(view, field) == getattr(content, field), field
    assert (view.n_ops, view.n_tensors) == (len(content.ops), len(content.tensors))
    assert [tuple(r) for r in view.init] == [(r.tensor, r.where, r.offset, r.data) for r in content.init]
    assert tuple(view.train) == (3, 0, 2, 7, layout.TRAIN_SHUFFLE)
    np.testing.assert_array_equal(view.dataset.x, content.dataset.x)
    np.testing.assert_array_equal(view.dataset.y, content.dataset.y)
    assert view.dataset.y.dtype == np.int32
    assert view.model == content.model
    assert view.names == content.names


def test_optional_sections_may_be_absent():
    view = read_bundle(encode_bundle(samples.tiny_content(with_swap=False, with_data=False,
                                                          with_names=False)))
    assert view.swap_events is None and view.dataset is None and view.names is None
    assert view.flash_bytes == 0


def test_dense_labels_round_trip():
    content = samples.tiny_content(with_data=False)
    content.label_kind, content.y_bytes = layout.LABEL_DENSE, 8
    # dense labels outgrow T's slot: move T to a fresh range at the arena's end
    content.tensors[samples.T] = (content.arena_bytes, samples.N * 8)
    content.arena_bytes += samples.N * 8
    content.ops[1]["p"][2] = content.ops[2]["p"][2] = layout.LABEL_DENSE
    y = np.arange(10, dtype=np.float32).reshape(5, 2)
    content.dataset = samples.Dataset(samples.dataset().x, y)
    view = read_bundle(encode_bundle(content))
    np.testing.assert_array_equal(view.dataset.y, y)


def test_section_order_is_free_and_trailing_bytes_are_ignored():
    sections = content_sections(samples.tiny_content())
    data = assemble(list(reversed(sections)))
    assert read_bundle(data + b"\xff" * 8).n_ops == len(samples.op_list())


def test_write_bundle_is_atomic_and_checked(tmp_path):
    path = tmp_path / "tiny.mtb"
    data = write_bundle(path, samples.tiny_content())
    assert path.read_bytes() == data
    bad = samples.tiny_content()
    bad.ops[0]["t"][0] = 99
    with pytest.raises(BundleError):
        write_bundle(path, bad)
    assert path.read_bytes() == data  # the old file survives a refused write
    assert os.listdir(tmp_path) == ["tiny.mtb"]  # no temp file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_planner_bundle_with_swap_is_accepted(tmp_path):
    from host_tools.cli import main
    path = tmp_path / "cnn.mtb"
    model = Path(__file__).parents[1] / "examples" / "digits_cnn.ini"
    assert main(["plan", str(model), "--batch", "2", "--ram-budget", "80000", "-o", str(path)]) == 0
    view = read_bundle(path.read_bytes())
    assert view.arena_bytes <= 80000 and len(view.swap_events) > 0
    assert any(r.where == layout.WHERE_FLASH for r in view.init)


# ---- the C entry point itself: arguments read_bundle never gets wrong ----

def _c_open():
    import ctypes
    import core_cy._core
    lib = ctypes.CDLL(core_cy._core.__file__)
    lib.mt_bundle_open.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                                   ctypes.c_char_p, ctypes.c_uint32]
    return lib, ctypes


MT_ERR_BUNDLE_ARGS, MT_ERR_BUNDLE_HEADER = 8, 9  # enum mt_status


def test_c_reader_refuses_null_and_misaligned_buffers():
    lib, ctypes = _c_open()
    data = encode_bundle(samples.tiny_content())
    storage = (ctypes.c_uint32 * (len(data) // 4 + 2))()
    base = ctypes.addressof(storage)
    out = ctypes.create_string_buffer(4096)  # larger than mt_bundle
    err = ctypes.create_string_buffer(128)
    ctypes.memmove(base, data, len(data))
    assert lib.mt_bundle_open(base, len(data), out, err, len(err)) == 0 and err.value == b""
    ctypes.memmove(base + 1, data, len(data))
    assert lib.mt_bundle_open(base + 1, len(data), out, err, len(err)) == MT_ERR_BUNDLE_ARGS
    assert err.value == b"buffer must be non-NULL and 4-byte aligned"
    assert lib.mt_bundle_open(None, 0, out, err, len(err)) == MT_ERR_BUNDLE_ARGS
    assert lib.mt_bundle_open(base, len(data), None, err, len(err)) == MT_ERR_BUNDLE_ARGS
    assert lib.mt_bundle_open(base, 3, out, None, 0) == MT_ERR_BUNDLE_HEADER  # no message buffer: status only
    tiny = ctypes.create_string_buffer(8)
    assert lib.mt_bundle_open(base, 3, out, tiny, len(tiny)) == MT_ERR_BUNDLE_HEADER and tiny.value == b"truncat"


def test_c_crc32_is_zlib_crc32():
    lib, ctypes = _c_open()
    lib.mt_crc32.restype = ctypes.c_uint32
    lib.mt_crc32.argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_uint32]
    data = bytes(range(256)) * 3
    assert lib.mt_crc32(0, data, len(data)) == zlib.crc32(data)
    assert lib.mt_crc32(lib.mt_crc32(0, data, 100), data[100:], len(data) - 100) == zlib.crc32(data)


# ---- container damage ----

def test_bad_magic():
    data = bytearray(encode_bundle(samples.tiny_content()))
    data[0:4] = b"MTBX"
    rejected(bytes(data), "bad magic")


def test_unsupported_major_version():
    data = assemble(content_sections(samples.tiny_content()), major=2)
    rejected(data, f"unsupported format version 2.{layout.FORMAT_MINOR}")


def test_newer_minor_version_is_read():
    assert read_bundle(assemble(content_sections(samples.tiny_content()), minor=7)).minor == 7


def test_truncated_at_every_length():
    data = encode_bundle(samples.tiny_content(with_data=False, with_names=False))
    for length in range(len(data)):
        rejected(data[:length], "truncated")


def test_every_flipped_bit_is_caught():
    data = encode_bundle(samples.tiny_content(with_data=False, with_names=False))
    length_fields = _section_length_fields(data)
    for byte in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[byte] ^= 1 << bit
            message = rejected(bytes(damaged), "")
            if byte >= 4 and byte not in length_fields:
                assert "CRC mismatch" in message, (byte, bit, message)


def _section_length_fields(data: bytes) -> set:
    """Bytes of each section's length field (a flip there may move the bounds)."""
    fields, pos = set(), 20
    while pos < len(data):
        length = struct.unpack_from("<I", data, pos + 4)[0]
        fields.update(range(pos + 4, pos + 8))
        pos += 12 + layout.padded(length)
    return fields


def test_section_crc_mismatch_names_the_section():
    data = bytearray(encode_bundle(samples.tiny_content()))
    ops_payload = data.index(b"OPS ") + 12
    data[ops_payload + 5] ^= 0x10
    rejected(bytes(data), "section OPS : CRC mismatch")


def test_duplicate_section():
    sections = content_sections(samples.tiny_content())
    rejected(assemble(sections + [sections[0]]), "section PROG: appears more than once")


@pytest.mark.parametrize("tag", [b"PROG", b"OPS ", b"TENS", b"INIT", b"TRAN", b"MODL"])
def test_missing_required_section(tag):
    sections = [(t, p) for t, p in content_sections(samples.tiny_content()) if t != tag]
    rejected(assemble(sections), f"section {tag.decode()}: missing")


def test_unknown_optional_section_is_skipped_and_mandatory_refused():
    sections = content_sections(samples.tiny_content())
    assert read_bundle(assemble(sections + [(b"xtra", b"anything")])).n_ops == 6
    rejected(assemble(sections + [(b"XTRA", b"anything")]), "section 'XTRA': unknown mandatory section")
    rejected(assemble(sections + [(b"1abc", b"")]), "tag must start with a letter")
    rejected(assemble(sections + [(b"a\x00bc", b"")]), "not printable ASCII")


def test_section_count_disagrees_with_length():
    data = bytearray(assemble(content_sections(samples.tiny_content())))
    count = struct.unpack_from("<I", data, 8)[0]
    struct.pack_into("<I", data, 8, count - 1)
    struct.pack_into("<I", data, 16, zlib.crc32(bytes(data[:16])))
    rejected(bytes(data), "sections end at byte")


# ---- content damage (valid CRCs, wrong meaning) ----

def test_op_tensor_id_out_of_range():
    content = samples.tiny_content()
    content.ops[3]["t"][1] = 99
    rejected(encode_bundle(content), "op 3: tensor id 99 out of range (10 tensors)")


def test_op_refused_by_program_validation():
    content = samples.tiny_content()
    content.ops[0]["p"][1] = 30  # IN = 30: X and W are now too small
    rejected(encode_bundle(content), "op 0 (kind 1, phase 0): tensor smaller than the op's parameters need")
    content = samples.tiny_content()
    content.ops[2]["kind"] = 999
    rejected(encode_bundle(content), "op 2 (kind 999, phase 2): bad op (unknown kind")


def test_op_reserved_byte_must_be_zero():
    content = samples.tiny_content()
    content.ops[1]["reserved"] = 5
    rejected(encode_bundle(content), "op 1: reserved byte is 5")


def test_tensor_outside_arena():
    content = samples.tiny_content()
    content.tensors[9]["offset"] = content.arena_bytes
    rejected(encode_bundle(content), "tensor 9: [152, +8) lies outside the 152-byte arena")
    content.tensors[9]["offset"], content.tensors[9]["nbytes"] = 8, 0xFFFFFFFC  # wraps in 32 bits
    rejected(encode_bundle(content), "tensor 9:")


def test_tensor_misaligned():
    content = samples.tiny_content()
    content.tensors[2]["offset"] += 2
    rejected(encode_bundle(content), "tensor 2: offset 50 is not 4-byte aligned")


def test_counts_must_match_section_lengths():
    content = samples.tiny_content()
    prog = bytearray(content_sections(content)[0][1])
    struct.pack_into("<I", prog, 0, 7)
    rejected(with_section(content, layout.TAG_PROG, bytes(prog)), "section OPS : 696 bytes, PROG says 7 records")


def test_role_tensor_out_of_range():
    content = replace(samples.tiny_content(), labels=10)
    rejected(encode_bundle(content), "PROG: labels tensor id 10 out of range")


def test_kernel_abi_mismatch():
    other = layout.KERNEL_ABI_VERSION + 1
    rejected(encode_bundle(replace(samples.tiny_content(), kernel_abi=other)), f"PROG: kernel ABI {other}")


def test_input_size_must_match_batch():
    rejected(encode_bundle(replace(samples.tiny_content(), batch=3)), "PROG: input tensor has 24 bytes")
    rejected(encode_bundle(replace(samples.tiny_content(), y_bytes=8)), "PROG: label kind 0 with 8 label bytes")
    huge = replace(samples.tiny_content(), batch=0x40000000, x_numel=0x40000000)  # product overflows
    rejected(encode_bundle(huge), "PROG: input tensor has 24 bytes")


def test_swap_event_outside_arena_and_flash():
    content = samples.tiny_content()
    content.swap_events[2]["arena_offset"] = 140
    rejected(encode_bundle(content), "swap event 2: [140, +24) lies outside the 152-byte arena")
    content = samples.tiny_content()
    content.swap_events[0]["flash_offset"] = 4
    rejected(encode_bundle(content), "swap event 0: [4, +24) lies outside the 24-byte flash")
    content = samples.tiny_content()
    content.swap_events[1]["nbytes"] = 0xFFFFFFF0
    rejected(encode_bundle(content), "swap event 1:")


def test_swap_event_fields_and_order():
    content = samples.tiny_content()
    content.swap_events[2]["op"] = 6
    rejected(encode_bundle(content), "swap event 2: op 6, when 1, action 2 not valid")
    content = samples.tiny_content()
    content.swap_events[0]["op"] = 5
    rejected(encode_bundle(content), "swap event 1: not sorted by (op, when)")
    rejected(with_section(samples.tiny_content(), layout.TAG_SWAP, b"\0" * 21), "not a whole number")


def test_init_records_must_match_their_tensor():
    content = samples.tiny_content()
    content.init[0] = replace(content.init[0], data=content.init[0].data[:-4])
    rejected(encode_bundle(content), "init record 0: 20 bytes, tensor 1 has 24")
    content = samples.tiny_content()
    content.init[1] = replace(content.init[1], offset=0)
    rejected(encode_bundle(content), "init record 1: arena offset 0, tensor 2 is at 48")
    content = samples.tiny_content()
    content.init[2] = replace(content.init[2], offset=4)
    rejected(encode_bundle(content), "init record 2: [4, +24) lies outside the 24-byte flash")
    content = samples.tiny_content()
    content.init.append(InitRecord(10, layout.WHERE_ARENA, 0, b""))
    rejected(encode_bundle(content), "init record 3: tensor 10, where 0 not valid")


def test_init_record_running_past_its_section():
    record = layout.INIT_HEADER.pack(samples.W, 0, 24, 0xFFFFFFFF) + b"\0" * 24
    rejected(with_section(samples.tiny_content(), layout.TAG_INIT, record), "init record 0: 4294967295 bytes run past")
    rejected(with_section(samples.tiny_content(), layout.TAG_INIT, b"\0" * 8), "init record 0: header truncated")


def test_data_size_mismatch():
    content = samples.tiny_content()
    payload = bytearray(dict(content_sections(content))[layout.TAG_DATA])
    struct.pack_into("<I", payload, 0, 6)
    rejected(with_section(content, layout.TAG_DATA, bytes(payload)), "section DATA: 84 bytes do not hold 6 samples")
    struct.pack_into("<I", payload, 0, 0xFFFFFFFF)
    rejected(with_section(content, layout.TAG_DATA, bytes(payload)), "do not hold 4294967295 samples")
    rejected(with_section(content, layout.TAG_DATA, b"\0" * 4), "do not hold 0 samples")
    rejected(with_section(content, layout.TAG_DATA, b""), "section DATA: 0 bytes, too short")


def test_train_settings_checked():
    content = replace(samples.tiny_content(), train=TrainSettings(flags=1 << 5))
    rejected(encode_bundle(content), "section TRAN: unknown flags 0x00000020")
    rejected(with_section(samples.tiny_content(), layout.TAG_TRAIN, b"\0" * 16), "section TRAN: 16 bytes, expected 20")


def test_json_sections_checked():
    content = samples.tiny_content()
    rejected(with_section(content, layout.TAG_MODEL, b""), "section MODL: empty")
    rejected(with_section(content, layout.TAG_MODEL, b"{\xff}"), "section MODL: not valid UTF-8 JSON")
    rejected(with_section(content, layout.TAG_MODEL, b"[1]"), "section MODL: must be a JSON object")
    rejected(with_section(content, layout.TAG_MODEL, b"[" * 100000), "section MODL: not valid UTF-8 JSON")
    rejected(with_section(content, layout.TAG_NAMES, b'["x"]'), "section NAME: must be a list of 10 strings")


# ---- fuzz corpus and regressions: success or BundleError, never a crash ----

FUZZ_FILES = sorted(p for d in ("corpus", "regressions") for p in (FUZZ_DIR / d).glob("*") if p.is_file())


@pytest.mark.parametrize("path", FUZZ_FILES, ids=[f"{p.parent.name}/{p.name}" for p in FUZZ_FILES])
def test_fuzz_inputs_never_crash(path):
    try:
        read_bundle(path.read_bytes())
    except BundleError:
        pass


def test_fuzz_corpus_has_valid_seeds():
    valid = 0
    for path in FUZZ_DIR.glob("corpus/valid-*"):
        read_bundle(path.read_bytes())
        valid += 1
    assert valid >= 3


def test_op_params_whose_size_wraps_64_bits_are_refused():
    content = samples.tiny_content()
    pool = layout.make_op(22, samples.FORWARD, [samples.X, samples.Z],  # MT_OP_AVGPOOL_FWD
                          [65536, 65536, 65536, 65536, 1, 1, 1, 1, 0, 0, 65536, 65536])
    content.ops = np.concatenate([content.ops, pool[None]])
    rejected(encode_bundle(content), "op 6 (kind 22, phase 0)")
