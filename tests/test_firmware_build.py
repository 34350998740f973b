"""The bare-metal firmware (firmware/, PlatformIO offline): both QEMU
environments build, everything fits the 256 KB SRAM at link time, no heap is
linked, the arena is the size the host plans for, and the protocol constants
the C agent uses are the Python package's."""

import re
import subprocess
import sys

import pytest

from host_tools.device.qemu_board import FIRMWARE_DIR
from host_tools.device.targets import BAREMETAL_RAM_BYTES
from firmware_fixtures import firmware

TARGETS = ("baremetal-m4f", "baremetal-m3")
SRAM_START, SRAM_BYTES = 0x20000000, 256 * 1024


def symbols(elf):
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True)
    return {parts[2]: (int(parts[0], 16), parts[1]) for parts in
            (line.split() for line in out.stdout.splitlines()) if len(parts) == 3}


@pytest.mark.parametrize("target", TARGETS)
def test_firmware_links_into_256k_of_sram_with_the_planned_arena(target):
    table = symbols(firmware(target))
    arena = table["__arena_end"][0] - table["__arena_start"][0]
    assert arena == BAREMETAL_RAM_BYTES
    assert table["__data_start"][0] == SRAM_START
    assert table["__stack_top"][0] == SRAM_START + SRAM_BYTES
    assert table["__stack_top"][0] - table["__stack_limit"][0] >= 16 * 1024


@pytest.mark.parametrize("target", TARGETS)
def test_no_heap_is_linked(target):
    elf = firmware(target)
    memory_map = (elf.parent / "firmware.map").read_text()
    for name in ("malloc", "_malloc_r", "_sbrk", "_sbrk_r", "free", "realloc"):
        assert not re.search(r"\b%s\b" % name, memory_map), name
        assert name not in symbols(elf), name


def test_m4f_uses_the_fpu_and_m3_does_not():
    def float_abi(target):
        out = subprocess.run(["arm-none-eabi-readelf", "-A", str(firmware(target))],
                             capture_output=True, text=True, check=True).stdout
        return "Tag_ABI_VFP_args: VFP registers" in out, "Tag_ABI_HardFP_use: SP only" in out
    assert float_abi("baremetal-m4f") == (True, True)
    assert float_abi("baremetal-m3") == (False, False)


def test_protocol_header_matches_the_python_package():
    done = subprocess.run([sys.executable, str(FIRMWARE_DIR / "tools" / "gen_protocol_header.py"),
                           "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    text = (FIRMWARE_DIR / "src" / "protocol_defs.h").read_text()
    from protocol import messages as m
    assert "#define MSG_UPLOAD_CHUNK %d\n" % m.UPLOAD_CHUNK in text
    assert "#define REJECT_TOO_BIG %d\n" % m.REJECT_TOO_BIG in text
