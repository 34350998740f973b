"""Builds the one C core (core_cy/src) into the CPython extension.

-ffp-contract=off keeps float results identical to the firmware build:
fused multiply-add would change last bits between targets.

The extension's C files compile in parallel (one line each). Objects live in
build/temp-core (also for `pip install -e .`, which would otherwise build in
a fresh temporary directory every time), and one newer than its source and
every header is reused, so a second build with nothing changed compiles
nothing (`build_ext --force` recompiles all)."""
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The portable core every target compiles, plus this port's (POSIX) pieces.
C_SOURCES = sorted(str(p) for p in Path("core_cy/src").glob("*.c"))
PORT_SOURCES = sorted(str(p) for p in Path("core_cy/ports/posix").glob("*.c"))
HEADERS = sorted(str(p) for p in Path("core_cy").glob("**/*.h"))


def _up_to_date(obj, src, depends):
    """The object exists and is newer than its source and every header."""
    if not os.path.exists(obj):
        return False
    built = os.path.getmtime(obj)
    return all(os.path.getmtime(path) < built for path in [src, *depends])


class ParallelBuildExt(build_ext):
    """setuptools' --parallel runs separate extensions side by side; microtrain
    has one extension of ~25 C files, so compile its files on a thread pool
    (numpy and PyWavelets patch CCompiler.compile the same way)."""

    def finalize_options(self):
        super().finalize_options()
        self.build_temp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "build", "temp-core")

    def build_extension(self, ext):
        workers = self.parallel if isinstance(self.parallel, int) and self.parallel > 0 \
            else (os.cpu_count() or 1)
        self.compiler.compile = _parallel_compile(self.compiler, workers,
                                                  None if self.force else ext.depends)
        super().build_extension(ext)


def _parallel_compile(compiler, workers, headers):
    """compiler.compile over a thread pool; headers=None recompiles everything."""
    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
        jobs = [(obj, build[obj][0], build[obj][1]) for obj in objects
                if obj in build and (headers is None or not _up_to_date(obj, build[obj][0], headers))]
        jobs.sort(key=lambda job: -os.path.getsize(job[1]))  # the big Cython file first

        def compile_one(numbered):
            number, (obj, src, ext) = numbered
            print(f"[{number}/{len(jobs)}] compiling {src}", file=sys.stderr, flush=True)
            compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(compile_one, enumerate(jobs, 1)))
        return objects
    return compile


def _cython_source():
    """_core.c when it is newer than the .pyx and its .pxi includes: Cython's
    own dependency check also counts its bundled .pxd files, which a fresh
    isolated build environment (plain `pip install -e .`) always makes newer."""
    generated = Path("core_cy/_core.c")
    inputs = [Path("core_cy/_core.pyx"), *Path("core_cy").glob("*.pxi")]
    if generated.exists() and all(p.stat().st_mtime < generated.stat().st_mtime for p in inputs):
        return str(generated)
    return "core_cy/_core.pyx"


extension = Extension(
    "core_cy._core",
    sources=[_cython_source(), *C_SOURCES, *PORT_SOURCES],
    include_dirs=["core_cy/src", "core_cy/ports/posix"],
    depends=HEADERS,
    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"],
    extra_link_args=["-lpthread"],
)

setup(ext_modules=cythonize([extension], language_level=3),
      cmdclass={"build_ext": ParallelBuildExt})
