"""'Validated means safe' (issue 8), replayed in the normal suite: the fuzz targets
of tests/fuzz/ built with gcc alone (with ASan + UBSan when gcc has them) replay
the seed corpus and every crasher, and hand-made inputs pin down the max-pool
crash and the swap schedule rules. libFuzzer runs: tests/fuzz/run_fuzz.sh."""
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core_cy._core import BundleError, read_bundle

FUZZ_DIR = Path(__file__).parent / "fuzz"
SRC = Path(__file__).resolve().parents[1] / "core_cy" / "src"
sys.path.insert(0, str(FUZZ_DIR))
from crc_repair import repair_crcs  # noqa: E402

SANITIZERS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]
OP_BYTES, TENSOR_BYTES = 116, 8
MAXPOOL_FWD, MAXPOOL_DERIV = 20, 21


def _gcc_has_sanitizers(tmp: Path) -> bool:
    probe = tmp / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    built = subprocess.run(["gcc", *SANITIZERS, str(probe), "-o", str(tmp / "probe")], capture_output=True)
    return built.returncode == 0 and subprocess.run([str(tmp / "probe")]).returncode == 0


def _build(tmp: Path, name: str, sources: list) -> Path:
    flags = SANITIZERS if _gcc_has_sanitizers(tmp) else []
    binary = tmp / name
    subprocess.run(["gcc", "-std=c99", "-g", "-O1", "-ffp-contract=off", *flags, "-I", str(SRC),
                    *map(str, sources), str(FUZZ_DIR / "fuzz_replay_main.c"), "-lm", "-o", str(binary)],
                   check=True)
    return binary


@pytest.fixture(scope="module")
def replay_exec(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("fuzz_exec"), "replay_exec",
                  [FUZZ_DIR / "fuzz_exec_c.c", *sorted(SRC.glob("mt_*.c"))])


@pytest.fixture(scope="module")
def replay_swap(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("fuzz_swap"), "replay_swap",
                  [FUZZ_DIR / "fuzz_swap_c.c", SRC / "mt_swap.c", SRC / "mt_swap_check.c"])


def replay(binary: Path, paths: list) -> dict:
    """Replays files; fails on a crash or sanitizer report; returns path -> outcome."""
    done = subprocess.run([str(binary), *map(str, paths)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "runtime error" not in done.stderr, done.stderr[-3000:]
    outcomes = dict(line.rsplit(": ", 1) for line in done.stdout.splitlines())
    assert len(outcomes) == len(paths)
    return outcomes


def replay_bytes(binary: Path, tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    return replay(binary, [path])[str(path)]


# ---- executor ----

def test_every_valid_seed_reaches_the_executor(replay_exec):
    seeds = sorted(FUZZ_DIR.glob("corpus/valid-*"))
    assert len(seeds) >= 8
    assert set(replay(replay_exec, seeds).values()) == {"ran"}


def test_corpus_and_regressions_run_clean(replay_exec):
    inputs = sorted(p for d in ("corpus", "regressions") for p in (FUZZ_DIR / d).glob("*") if p.is_file())
    outcomes = replay(replay_exec, inputs)
    assert set(outcomes.values()) <= {"ran", "refused by mt_bundle_open", "refused by mt_swap_check"}


def _records(data: bytes, tag: bytes, size: int):
    """(payload offset, record count) of a section."""
    pos = 20
    while pos + 12 <= len(data):
        length = struct.unpack_from("<I", data, pos + 4)[0]
        if data[pos:pos + 4] == tag:
            return pos + 12, length // size
        pos += 12 + (length + 3) // 4 * 4
    raise AssertionError(f"no {tag} section")


def maxpool_index_from_float_output() -> bytes:
    """The reported crash: the max-pool derivative's IDX slot names a float tensor
    another op wrote, the ReLU output the forward pools (still live for the ReLU
    derivative; larger than IDX, so the size check passes)."""
    data = bytearray((FUZZ_DIR / "corpus" / "valid-plan-cnn-maxpool-bn-dropout-sgd.mtb").read_bytes())
    start, count = _records(data, b"OPS ", OP_BYTES)
    ops = [start + i * OP_BYTES for i in range(count)]
    kind = lambda at: struct.unpack_from("<H", data, at)[0]  # noqa: E731
    fwd = next(at for at in ops if kind(at) == MAXPOOL_FWD)
    deriv = next(at for at in ops if kind(at) == MAXPOOL_DERIV)
    relu_out = struct.unpack_from("<i", data, fwd + 4)[0]  # t[0] of [X, Y, IDX]
    struct.pack_into("<i", data, deriv + 4 + 4, relu_out)  # t[1] of [dY, IDX, dX]
    return repair_crcs(bytes(data))


def test_maxpool_derivative_with_a_float_index_tensor_stays_in_bounds(replay_exec, tmp_path):
    bundle = maxpool_index_from_float_output()
    try:
        read_bundle(bundle)
        accepted = True
    except BundleError:
        accepted = False  # a validator that types IDX may refuse it: also safe
    outcome = replay_bytes(replay_exec, tmp_path, bundle)
    assert outcome == ("ran" if accepted else "refused by mt_bundle_open")


# ---- swap runtime: fuzz_swap_c's input is [n_ops, slots - 1, eval mask, arena/4,
# flash/4, eval mask, 0, 0] then 6-byte events [op, when | action << 1, tag, nbytes/4,
# arena_offset/4, flash_offset/4] ----

BEFORE, AFTER = 0, 1
START, WAIT, WRITE = 0, 1, 2


def schedule(*events, n_ops=4, slots=4, arena=256, flash=256) -> bytes:
    head = bytes([n_ops - 1, slots - 1, 0xFF, arena // 4, flash // 4, 0xFF, 0, 0])
    return head + b"".join(bytes([op, when | action << 1, tag, nbytes // 4, at // 4, home // 4])
                           for op, when, action, tag, nbytes, at, home in events)


SWAP_CASES = {
    "planned: read, wait, write back": (schedule(
        (0, BEFORE, START, 1, 64, 0, 0), (1, BEFORE, WAIT, 1, 64, 0, 0), (2, AFTER, WRITE, 0, 64, 0, 0)), "ran"),
    "two reads in two slots": (schedule(
        (0, BEFORE, START, 1, 16, 0, 0), (0, BEFORE, START, 2, 16, 16, 16),
        (1, BEFORE, WAIT, 2, 0, 0, 0), (1, BEFORE, WAIT, 1, 0, 0, 0), slots=2), "ran"),
    "two reads, one slot": (schedule(
        (0, BEFORE, START, 1, 16, 0, 0), (0, BEFORE, START, 2, 16, 16, 16),
        (1, BEFORE, WAIT, 2, 0, 0, 0), (1, BEFORE, WAIT, 1, 0, 0, 0), slots=1), "refused by mt_swap_check"),
    "wait without a read": (schedule((0, BEFORE, WAIT, 1, 0, 0, 0)), "refused by mt_swap_check"),
    "tag started twice before its wait": (schedule(
        (0, BEFORE, START, 1, 16, 0, 0), (0, BEFORE, START, 1, 16, 16, 16),
        (1, BEFORE, WAIT, 1, 0, 0, 0)), "refused by mt_swap_check"),
    "read left in flight": (schedule((0, BEFORE, START, 1, 16, 0, 0)), "refused by mt_swap_check"),
    "write from bytes a read is filling": (schedule(
        (0, BEFORE, START, 1, 16, 0, 0), (0, AFTER, WRITE, 0, 4, 12, 64),
        (1, BEFORE, WAIT, 1, 0, 0, 0)), "refused by mt_swap_check"),
    "read into bytes a read is filling (served in order)": (schedule(
        (0, BEFORE, START, 1, 16, 0, 0), (0, BEFORE, START, 2, 16, 8, 64),
        (1, BEFORE, WAIT, 1, 0, 0, 0), (1, BEFORE, WAIT, 2, 0, 0, 0)), "ran"),
    "not sorted by (op, when)": (schedule(
        (1, BEFORE, WRITE, 0, 16, 0, 0), (0, AFTER, WRITE, 0, 16, 0, 0)), "refused by mt_swap_check"),
    "op past the program": (schedule((4, BEFORE, WRITE, 0, 16, 0, 0)), "refused by mt_swap_check"),
    "arena range past the end": (schedule((0, BEFORE, WRITE, 0, 16, 244, 0)), "refused by mt_swap_check"),
    "flash range past the end": (schedule((0, BEFORE, WRITE, 0, 16, 0, 244)), "refused by mt_swap_check"),
    "unknown action": (schedule((0, BEFORE, 3, 0, 16, 0, 0)), "refused by mt_swap_check"),
}


@pytest.mark.parametrize("name", SWAP_CASES)
def test_swap_check_accepts_only_what_a_strict_backend_runs(replay_swap, tmp_path, name):
    data, expected = SWAP_CASES[name]
    assert replay_bytes(replay_swap, tmp_path, data) == expected


def test_swap_regressions_run_clean(replay_swap):
    inputs = sorted(p for p in (FUZZ_DIR / "regressions" / "swap").glob("*") if p.is_file())
    if not inputs:
        pytest.skip("run_fuzz.sh has found no swap crasher yet")
    replay(replay_swap, inputs)


def test_read_bundle_refuses_a_schedule_touching_bytes_a_read_is_filling():
    import bundle_samples as samples
    from host_tools.bundle.writer import encode_bundle
    content = samples.tiny_content()
    start, wait, write_back = content.swap_events.copy()
    write = write_back.copy()
    write["op"], write["when"] = 0, AFTER  # copies W out while its read may still be landing
    wait["op"] = 1
    content.swap_events = np.array([start, write, wait])
    with pytest.raises(BundleError, match=r"swap event 1: writes out arena bytes a read in flight is filling"):
        read_bundle(encode_bundle(content))
    content.swap_events = np.array([start, wait, write_back])  # the planned order
    read_bundle(encode_bundle(content))
