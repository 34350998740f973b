"""atheris harness for the bundle reader: any input must give a BundleView or
a BundleError, never a crash, hang or other exception.

    mkdir -p /tmp/mtb-corpus
    python tests/fuzz/fuzz_bundle.py /tmp/mtb-corpus tests/fuzz/corpus -max_total_time=60

(libFuzzer adds new inputs to the first directory: keep the seed corpus second.)

Each input is read as is and again with its CRCs repaired, so mutations also
reach the checks behind the CRCs. With a plain build only the Python layer
guides the fuzzer; tests/fuzz/run_fuzz.sh builds a coverage-instrumented
core_cy._core so the C reader's branches guide it too."""
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).parent))

with atheris.instrument_imports():
    from crc_repair import repair_crcs
    from core_cy._core import BundleError, read_bundle


def read_or_refuse(data: bytes) -> None:
    try:
        view = read_bundle(data)
    except BundleError:
        return
    # A bundle that passed must be self-consistent, not merely non-crashing.
    assert len(view.ops) == view.n_ops and len(view.tensors) == view.n_tensors
    assert all(int(t["offset"]) + int(t["nbytes"]) <= view.arena_bytes for t in view.tensors)


def test_one_input(data: bytes) -> None:
    read_or_refuse(data)
    read_or_refuse(repair_crcs(data))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input, internal_libfuzzer=True)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
