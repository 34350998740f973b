# Kernel threads (POSIX pool, core_cy/ports/posix/mt_threads.c) and the GEMM
# micro-kernel set in use. Results are bit-identical for any thread count
# and any set; these only change speed.
cdef extern from "mt_threads.h":
    int mt_threads_start(int n) nogil
    int mt_threads_count() nogil

cdef extern from "src/mt_gemm.h":
    int mt_gemm_select(const char *name) nogil
    const char *mt_gemm_variant_name() nogil


def set_threads(int n):
    """Run the kernels on n threads from now on (1 = no workers)."""
    if mt_threads_start(n) != 0:
        raise ValueError(f"cannot run {n} kernel threads (1..64, system permitting)")


def thread_count():
    return mt_threads_count()


def select_gemm(name=None):
    """Force a micro-kernel set ('scalar', 'sse', 'avx2', 'neon'); None = automatic."""
    if name is None:
        mt_gemm_select(NULL)
    elif not mt_gemm_select(name.encode()):
        raise ValueError(f"GEMM micro-kernel set {name!r} is not available here")


def gemm_variant():
    return mt_gemm_variant_name().decode()
