#!/usr/bin/env bash
# Fuzzes the bundle reader twice, SECONDS_EACH seconds each (default 60):
#   1. the C reader alone under libFuzzer + AddressSanitizer + UBSan (fast, memory-exact);
#   2. read_bundle through atheris, with a coverage-instrumented core_cy._core.
# Needs clang (Debian: apt-get install clang-14 libclang-rt-14-dev).
# Crashes land in tests/fuzz/regressions/ (keep them: test_bundle.py replays them);
# the grown corpus stays in $FUZZ_OUT (default: a temp dir).
set -euo pipefail
SECONDS_EACH=${1:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${FUZZ_OUT:-$(mktemp -d)}
CC=${CC:-$(command -v clang || command -v clang-14)}
PY=$(python3 -c 'import sys; print(sys.executable)')  # the real binary, not a shim script
SRC=$REPO/core_cy/src
mkdir -p "$OUT/corpus_c" "$OUT/corpus_py" "$HERE/regressions"

echo "== C reader: libFuzzer + ASan + UBSan ($OUT)"
# The reader validates through the op table, which names every kernel: link the whole core.
"$CC" -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$SRC" "$HERE/fuzz_bundle_c.c" "$SRC"/*.c -lm -o "$OUT/fuzz_bundle_c"
"$OUT/fuzz_bundle_c" "$OUT/corpus_c" "$HERE/corpus" -max_total_time="$SECONDS_EACH" \
    -artifact_prefix="$HERE/regressions/c-" 2>&1 | grep -vE "^#[0-9]+ +(NEW|REDUCE|pulse)" | tail -n 20

echo "== read_bundle: atheris + coverage-instrumented extension"
# Build a copy of the package so the work tree and its in-place build stay untouched.
rm -rf "$OUT/tree" && mkdir -p "$OUT/tree"
cp -r "$REPO/core_cy" "$REPO/setup.py" "$REPO/pyproject.toml" "$OUT/tree/"
(cd "$OUT/tree" && CC="$CC" LDSHARED="$CC -shared" \
    CFLAGS="-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp -g -O1" \
    "$PY" setup.py -q build_ext --build-lib "$OUT/lib" --build-temp "$OUT/tmp" > "$OUT/build.log" 2>&1) \
    || { tail -n 30 "$OUT/build.log"; exit 1; }
cp "$REPO/core_cy/__init__.py" "$OUT/lib/core_cy/"
# The instrumented extension calls libFuzzer's coverage hooks, which live in atheris.
LIBFUZZER=$("$PY" -c 'import atheris, glob, os; print(glob.glob(os.path.join(os.path.dirname(atheris.__file__), "core_with_libfuzzer*.so"))[0])')
PYTHONPATH="$OUT/lib:$REPO" LD_PRELOAD="$LIBFUZZER" "$PY" "$HERE/fuzz_bundle.py" \
    "$OUT/corpus_py" "$HERE/corpus" -max_total_time="$SECONDS_EACH" \
    -artifact_prefix="$HERE/regressions/py-" 2>&1 | grep -vE "^(INFO: Instrumenting|#[0-9]+ +(NEW|REDUCE|pulse))" | tail -n 20
