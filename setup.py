"""Builds the one C core (core_cy/src) into the CPython extension.

-ffp-contract=off keeps float results identical to the firmware build:
fused multiply-add would change last bits between targets."""
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

C_SOURCES = sorted(str(p) for p in Path("core_cy/src").glob("*.c"))

extension = Extension(
    "core_cy._core",
    sources=["core_cy/_core.pyx", *C_SOURCES],
    include_dirs=["core_cy/src"],
    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"],
    extra_link_args=["-lpthread"],
)

setup(ext_modules=cythonize([extension], language_level=3))
