"""The portable core (core_cy/src) builds for bare-metal Cortex-M4F and M3 with
warnings as errors, and links without heap, printf family or pthread: checked
from the linker's map file, so "no malloc" is a link-time fact."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "core_cy" / "src"
CC = "arm-none-eabi-gcc"
PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-fno-math-errno",
          "-O2", "-ffunction-sections", "-fdata-sections"]
TARGETS = {
    "cortex-m4f": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m3": ["-mcpu=cortex-m3", "-mthumb"],
}
FORBIDDEN = re.compile(r"\b(_?malloc(_r)?|_?calloc(_r)?|_?realloc(_r)?|_sbrk(_r)?|"
                       r"\w*printf\w*|pthread_\w+)\b")

# Calls every entry point a firmware uses, so --gc-sections keeps what they need.
MAIN = r"""
#include "mt_bundle.h"
#include "mt_storage_ram.h"
static uint32_t bundle_words[64];
static uint8_t arena[256], flash[64];
void _start(void);
void _start(void)
{
    mt_bundle b;
    char err[80];
    mt_storage_ram ram;
    mt_swap_runtime rt;
    if (mt_bundle_open((const uint8_t *)bundle_words, sizeof bundle_words, &b, err, sizeof err) == MT_OK) {
        mt_storage_ram_init(&ram, flash, sizeof flash);
        mt_storage storage = mt_storage_ram_interface(&ram);
        mt_swap_init(&rt, b.swap_events, b.n_swap_events, arena, &storage);
        mt_hooks hooks = mt_swap_hooks(&rt);
        float loss, correct;
        int32_t order[1] = {0};
        (void)mt_train_loop(&b.program, arena, &b.data, order, 1, 0, 1, &loss, &correct, &hooks);
        (void)mt_run(&b.program, arena, MT_MODE_EVAL, &hooks);
        (void)mt_swap_finish(&rt);
    }
    (void)mt_status_str(MT_ERR_BAD_OP);
    for (;;) {}
}
"""


def _toolchain():
    if shutil.which(CC) is None:
        pytest.fail(f"{CC} not found: apt-get install {PACKAGES}", pytrace=False)


def _compile(target, tmp_path):
    objects = []
    for source in sorted(SRC.glob("*.c")) + [tmp_path / "main.c"]:
        obj = tmp_path / f"{target}-{source.stem}.o"
        subprocess.run([CC, *CFLAGS, *TARGETS[target], "-I", str(SRC), "-c", str(source),
                        "-o", str(obj)], check=True, capture_output=True, text=True)
        objects.append(str(obj))
    return objects


def _link(target, objects, tmp_path):
    elf, map_file = tmp_path / f"{target}.elf", tmp_path / f"{target}.map"
    subprocess.run([CC, *TARGETS[target], "--specs=nano.specs", "-nostartfiles", "-e", "_start",
                    "-Wl,--gc-sections", f"-Wl,-Map={map_file}", *objects, "-lm", "-o", str(elf)],
                   check=True, capture_output=True, text=True)
    return map_file.read_text()


def _kept_part(map_text):
    """Archive members pulled in, and the memory map (not the discarded sections)."""
    pulled = map_text.split("Discarded input sections")[0]
    kept = map_text.split("Linker script and memory map", 1)[1]
    return pulled + kept


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_core_links_without_heap_printf_or_threads(target, tmp_path):
    _toolchain()
    (tmp_path / "main.c").write_text(MAIN)
    try:
        objects = _compile(target, tmp_path)
        map_text = _link(target, objects, tmp_path)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"{target}: {error.stderr.strip()}", pytrace=False)
    found = sorted(set(m.group(0) for m in FORBIDDEN.finditer(_kept_part(map_text))))
    assert found == [], f"{target} links {found}"
    assert re.search(r"\bmt_run\b", map_text) and re.search(r"\bmt_bundle_open\b", map_text)


def test_conv_kernels_stack_below_256_bytes_on_cortex_m4f(tmp_path):
    """The conv tiles come from the arena scratch slot, not the stack: every
    function of the conv kernels keeps its frame (-fstack-usage) under 256 B."""
    _toolchain()
    obj = tmp_path / "conv.o"
    subprocess.run([CC, *CFLAGS, *TARGETS["cortex-m4f"], "-fstack-usage", "-I", str(SRC), "-c",
                    str(SRC / "mt_kernels_conv.c"), "-o", str(obj)], check=True)
    frames = {}
    for line in (tmp_path / "conv.su").read_text().splitlines():
        where, size, _ = line.split("\t")
        frames[where.rsplit(":", 1)[-1]] = int(size)
    assert "correlate" in frames or "mt_conv_fwd" in frames
    assert {name: size for name, size in frames.items() if size >= 256} == {}
