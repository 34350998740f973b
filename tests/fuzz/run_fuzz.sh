#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: bash tests/fuzz/run_fuzz.sh [SECONDS]
# SECONDS (default 180) is the whole fuzzing budget, shared out as
#   exec_c   1/2  structure-aware: valid bundles mutated, every accepted one trained
#                 and evaluated (with its swap schedule) under ASan + UBSan
#   bundle_c 1/6  the C bundle reader alone (libFuzzer + ASan + UBSan)
#   swap_c   1/6  random swap schedules vs mt_swap_check, replayed on a strict backend
#   bundle_py 1/6 read_bundle through atheris (skipped, with a note, without atheris)
# plus about 30 s of compiling. Prints runs, coverage (cov/ft) and crashers per
# target and exits 1 if any target crashed. Needs clang-14 (apt-get install clang-14
# libclang-rt-14-dev) and, for bundle_py, pip install atheris.
# Crashers land in tests/fuzz/regressions/ (swap_c: regressions/swap/); keep them:
# tests/test_fuzz_exec.py and tests/test_bundle.py replay them. The grown corpus
# stays in $FUZZ_OUT (default: a temp dir).
set -uo pipefail
TOTAL=${1:-180}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${FUZZ_OUT:-$(mktemp -d)}
CC=${CC:-$(command -v clang || command -v clang-14)}
PY=$(python3 -c 'import sys; print(sys.executable)')  # the real binary, not a shim script
SRC=$REPO/core_cy/src
FLAGS=(-std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$SRC")
SUMMARY=()
CRASHED=0
mkdir -p "$OUT" "$HERE/regressions/swap"

# summarize NAME LOG STATUS: one line from libFuzzer's final statistics.
summarize() {
    local runs cov ft crashers
    runs=$(grep -oE "^Done [0-9]+ runs" "$2" | grep -oE "[0-9]+" | tail -n 1)
    [ -n "$runs" ] || runs=$(grep -oE "^#[0-9]+" "$2" | tail -n 1 | tr -d '#')
    cov=$(grep -oE "cov: [0-9]+" "$2" | tail -n 1 | grep -oE "[0-9]+")
    ft=$(grep -oE "ft: [0-9]+" "$2" | tail -n 1 | grep -oE "[0-9]+")
    crashers=$(grep -c "Test unit written to" "$2")
    [ "$3" -eq 0 ] || [ "$crashers" -gt 0 ] || crashers="1 (exit $3)"
    [ "$crashers" = 0 ] || CRASHED=1
    SUMMARY+=("$(printf '%-10s runs %-9s cov %-5s ft %-6s crashers %s' "$1" "${runs:-0}" "${cov:-?}" "${ft:-?}" "$crashers")")
    grep -E "ERROR|runtime error|SUMMARY|Test unit written" "$2" | head -n 5
}

# fuzz NAME SECONDS ARTIFACT_PREFIX SOURCES...: build with libFuzzer and run.
fuzz() {
    local name=$1 seconds=$2 prefix=$3
    shift 3
    echo "== $name: ${seconds}s"
    "$CC" "${FLAGS[@]}" "$@" -lm -o "$OUT/$name" || { SUMMARY+=("$name: build failed"); CRASHED=1; return; }
    mkdir -p "$OUT/corpus_$name"
    local seeds=()
    [ "$name" = swap_c ] || seeds=("$HERE/corpus")
    "$OUT/$name" "$OUT/corpus_$name" "${seeds[@]}" -max_total_time="$seconds" -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$prefix" > "$OUT/$name.log" 2>&1
    summarize "$name" "$OUT/$name.log" $?
}

fuzz_python() {
    local seconds=$1
    echo "== bundle_py: ${seconds}s"
    if ! "$PY" -c 'import atheris' 2> /dev/null; then
        SUMMARY+=("bundle_py  skipped: atheris is not installed (pip install atheris)")
        return
    fi
    # A copy of the package, built with coverage hooks, so the work tree stays untouched.
    rm -rf "$OUT/tree" && mkdir -p "$OUT/tree"
    cp -r "$REPO/core_cy" "$REPO/setup.py" "$REPO/pyproject.toml" "$OUT/tree/"
    (cd "$OUT/tree" && CC="$CC" LDSHARED="$CC -shared" \
        CFLAGS="-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp -g -O1" \
        "$PY" setup.py -q build_ext --build-lib "$OUT/lib" --build-temp "$OUT/tmp" > "$OUT/build.log" 2>&1) \
        || { tail -n 30 "$OUT/build.log"; SUMMARY+=("bundle_py: build failed"); CRASHED=1; return; }
    cp "$REPO/core_cy/__init__.py" "$OUT/lib/core_cy/"
    # The instrumented extension calls libFuzzer's coverage hooks, which live in atheris.
    local libfuzzer
    libfuzzer=$("$PY" -c 'import atheris, glob, os; print(glob.glob(os.path.join(os.path.dirname(atheris.__file__), "core_with_libfuzzer*.so"))[0])')
    mkdir -p "$OUT/corpus_py"
    PYTHONPATH="$OUT/lib:$REPO" LD_PRELOAD="$libfuzzer" "$PY" "$HERE/fuzz_bundle.py" \
        "$OUT/corpus_py" "$HERE/corpus" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$HERE/regressions/py-" > "$OUT/bundle_py.log" 2>&1
    summarize bundle_py "$OUT/bundle_py.log" $?
}

echo "fuzzing for ${TOTAL}s in all; logs and grown corpora in $OUT"
fuzz exec_c $((TOTAL / 2)) "$HERE/regressions/exec-" \
    "$HERE/fuzz_exec_c.c" "$HERE/fuzz_exec_mutate.c" "$SRC"/mt_*.c
fuzz bundle_c $((TOTAL / 6)) "$HERE/regressions/c-" \
    "$HERE/fuzz_bundle_c.c" "$SRC"/mt_*.c
fuzz swap_c $((TOTAL / 6)) "$HERE/regressions/swap/swap-" \
    "$HERE/fuzz_swap_c.c" "$SRC/mt_swap.c" "$SRC/mt_swap_check.c"
fuzz_python $((TOTAL / 6))
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
exit $CRASHED
