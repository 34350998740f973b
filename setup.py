"""Builds the one C core (core_cy/src) into the CPython extension.

-ffp-contract=off keeps float results identical to the firmware build:
fused multiply-add would change last bits between targets."""
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

# The portable core every target compiles, plus this port's (POSIX) pieces.
C_SOURCES = sorted(str(p) for p in Path("core_cy/src").glob("*.c"))
PORT_SOURCES = sorted(str(p) for p in Path("core_cy/ports/posix").glob("*.c"))

extension = Extension(
    "core_cy._core",
    sources=["core_cy/_core.pyx", *C_SOURCES, *PORT_SOURCES],
    include_dirs=["core_cy/src", "core_cy/ports/posix"],
    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"],
    extra_link_args=["-lpthread"],
)

setup(ext_modules=cythonize([extension], language_level=3))
