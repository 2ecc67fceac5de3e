"""Every CPU core for ember's NumPy work: a small pool of threads that share the big ops.

NumPy runs an elementwise ufunc on one core, and attention's many small matrix products
one after another; only large matrix products use every core, through OpenBLAS's own
threads. PyTorch splits all of them over its cores. So ember splits its large ops itself:
:func:`parallel` runs ``fn(start, stop)`` on contiguous parts of a range, one part in the
calling thread and one in each worker thread, and :func:`matmul` runs a matrix product
as such parts (NumPy releases the GIL inside ufuncs and BLAS calls, so the parts run at
once).

NOTE: OpenBLAS's worker threads busy-wait for about 0.1 s after each product it threads
(measured on the 2-core development machine: a process that ran one 512x512 product and
then slept used 1.2 cores), so a Python thread that shares a core with one runs at half
speed. Inside ember's products OpenBLAS therefore runs on the calling thread alone
(``openblas_set_num_threads_local(1)``, restored afterwards), and ember's own split
supplies the other cores: a (4160, 192) x (192, 768) product took the same 10.1-10.9 ms
either way, and OpenBLAS's threads never wake to spin. Where NumPy's BLAS is not an OpenBLAS that has
that call (Accelerate, MKL, OpenBLAS before 0.3.27), products are left to the BLAS and only
elementwise work is split.

The number of threads is the number of cores this process may run on, at most
:data:`MAX_DEFAULT_THREADS`, or ``EMBER_NUM_THREADS``; :func:`set_num_threads` changes it
(1 turns the splitting off).
"""

from __future__ import annotations

import ctypes
import math
import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["set_num_threads", "get_num_threads", "parallel", "matmuls", "split", "rows_of", "matmul", "binary", "elementwise", "one_blas_thread",
           "MIN_ELEMENTS", "MIN_FLOPS", "MAX_DEFAULT_THREADS"]

#: Default thread count at most (the splits were measured on 2 cores; past a few, Python's
#: hand-offs between threads cost more than a part saves).
MAX_DEFAULT_THREADS = 4
#: Elementwise work below this many elements a thread runs on one thread.
MIN_ELEMENTS = 1 << 17
#: Products below this many multiply-adds a thread run on one thread.
MIN_FLOPS = 1 << 21

_state = threading.local()  # .worker: True in the pool's threads (they never split again)
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_threads = 1


def _openblas_local_threads():
    """OpenBLAS's ``openblas_set_num_threads_local`` (thread-local thread count, returning the
    previous one) from the library NumPy loaded, or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


_blas_local = _openblas_local_threads()


def _default_threads() -> int:
    env = os.environ.get("EMBER_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"EMBER_NUM_THREADS must be a positive integer, got {env!r}") from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_THREADS))


def _worker_init() -> None:
    _state.worker = True
    if _blas_local is not None:
        _blas_local(1)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (the calling one included) for ember's large NumPy ops; 1 runs them on one."""
    global _pool, _threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    with _lock:
        if n == _threads:
            return
        old, _pool, _threads = _pool, None, n
        if n > 1:
            _pool = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="ember",
                                       initializer=_worker_init)
    if old is not None:
        old.shutdown(wait=True)


def _new_pool_after_fork() -> None:
    """A forked child has none of its parent's threads: it gets a pool of its own (its threads
    start with its first split), or a split there would wait forever for the parent's."""
    global _pool, _lock
    _lock = threading.Lock()
    _state.worker = False
    _pool = None
    if _threads > 1:
        _pool = ThreadPoolExecutor(max_workers=_threads - 1, thread_name_prefix="ember",
                                   initializer=_worker_init)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_pool_after_fork)


def get_num_threads() -> int:
    """How many threads ember's large NumPy ops use (see :func:`set_num_threads`)."""
    return _threads


def _parts(work: float, minimum: float) -> int:
    if _threads == 1 or getattr(_state, "worker", False):
        return 1
    return int(max(1, min(_threads, work // minimum)))


def parallel(n: int, fn, work_per_item: float = 1.0, minimum: float = MIN_ELEMENTS) -> None:
    """Run ``fn(start, stop)`` over contiguous parts of ``range(n)`` on ember's threads.

    The parts must write disjoint outputs. A part is at least ``minimum`` units of work
    (``work_per_item`` a unit), so small ranges run in one call in the calling thread.
    """
    parts = _parts(n * work_per_item, minimum)
    pool = _pool
    if parts == 1 or pool is None or n < 2:
        _one_blas_thread(fn, 0, n)
        return
    parts = min(parts, n)
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    _state.worker = True  # a split inside this part runs inline: the pool's threads are busy
    try:
        _one_blas_thread(fn, bounds[0], bounds[1])
    finally:
        _state.worker = False
        for f in futures:  # every part finishes before its arrays can be used (or freed)
            f.exception()
    for f in futures:
        f.result()


def split(xp, n: int, fn, work_per_item: float = 1.0, minimum: float = MIN_ELEMENTS) -> None:
    """:func:`parallel` for NumPy's namespace; any other ``xp`` (CuPy, MLX) runs ``fn(0, n)`` once."""
    if xp is np:
        parallel(n, fn, work_per_item, minimum)
    else:
        fn(0, n)


_OPERATORS = {np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul,
              np.true_divide: operator.truediv}


def binary(ufunc, a, b):
    """``ufunc(a, b)`` for ``np.add``, ``np.subtract``, ``np.multiply`` or ``np.true_divide``:
    on NumPy float arrays of one dtype, split over ember's threads along the result's first
    axis; anything else goes to the Python operator (``a + b``...), whatever its namespace."""
    if (type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype or a.dtype.kind != "f"
            or _threads == 1 or getattr(_state, "worker", False) or max(a.size, b.size) < 2 * MIN_ELEMENTS):
        return _OPERATORS[ufunc](a, b)
    shape = np.broadcast_shapes(a.shape, b.shape)
    if len(shape) < 2 or shape[0] < 2:
        return _OPERATORS[ufunc](a, b)
    # The result takes the memory layout of an operand of its shape, as NumPy's ``a + b`` does:
    # a C-ordered sum of two channels-last activations would cost the next convolution a copy.
    like = a if a.shape == shape else b if b.shape == shape else None
    out = np.empty(shape, a.dtype) if like is None else np.empty_like(like)

    def rows(x, start, stop):  # an operand that is broadcast along the first axis is read whole
        return x[start:stop] if x.ndim == len(shape) and x.shape[0] == shape[0] else x

    parallel(shape[0], lambda s, e: ufunc(rows(a, s, e), rows(b, s, e), out=out[s:e]),
             work_per_item=out.size // shape[0])
    return out


def elementwise(fn, like, *arrays, minimum: float = MIN_ELEMENTS):
    """``fn(*arrays, out)`` into a new array ``out`` shaped and laid out like ``like``, where
    ``fn`` writes every element of ``out`` from the same elements of ``arrays`` (NumPy arrays
    of ``like``'s shape): large ones are split along the first axis over ember's threads, in
    parts of at least ``minimum`` elements."""
    out = np.empty_like(like)
    if like.ndim == 0:
        fn(*arrays, out)
    else:  # parallel runs small arrays in one call on this thread
        parallel(like.shape[0], lambda s, e: fn(*(a[s:e] for a in arrays), out[s:e]),
                 work_per_item=like.size // max(like.shape[0], 1), minimum=minimum)
    return out


class one_blas_thread:
    """``with one_blas_thread():`` NumPy's OpenBLAS runs on the calling thread alone inside the
    block (ember's own threads supply the other cores; see the module docstring)."""

    def __enter__(self):  # with one ember thread (or no such OpenBLAS call) the BLAS threads itself
        self.previous = _blas_local(1) if _blas_local is not None and _threads > 1 else None

    def __exit__(self, *exc):
        if self.previous is not None:
            _blas_local(self.previous)


def rows_of(a, start: int, stop: int):
    """Rows start:stop of ``a`` for a part of :func:`parallel`; ``a`` itself when they are all
    of them (a part's writes must reach ``a``, and some namespaces' slices are copies: MLX's)."""
    return a if start == 0 and stop == a.shape[0] else a[start:stop]


def _one_blas_thread(fn, start, stop):
    with one_blas_thread():
        return fn(start, stop)


def matmul(a, b, out=None, xp=np, bias=None):
    """``a @ b`` (plus ``bias`` on every row of a 2-D result) for NumPy float arrays, split
    over ember's threads (rows of ``a``, columns of ``b`` or the leading batch axis); other
    arrays go to ``xp.matmul`` (their namespace's).
    """
    out, n, part, flops = _split_plan(a, b, out, xp, bias)
    if n:
        parallel(n, part, flops, MIN_FLOPS)
    return out


def matmuls(*products):
    """``[a @ b for a, b in products]`` with one hand-off between ember's threads for all of
    them: each thread runs its share of every product. A ``None`` product gives ``None``."""
    plans = [None if pair is None else _split_plan(*pair, None, np, None) for pair in products]
    shares = [(n, part, flops) for _, n, part, flops in filter(None, plans) if n]
    if len(shares) == 1:
        parallel(*shares[0], MIN_FLOPS)
    elif shares:
        parts = _parts(sum(n * flops for n, _, flops in shares), MIN_FLOPS)

        def run(first, last):
            for i in range(first, last):
                for n, part, _ in shares:
                    start, stop = n * i // parts, n * (i + 1) // parts
                    if stop > start:
                        part(start, stop)

        parallel(parts, run, minimum=1)
    return [None if plan is None else plan[0] for plan in plans]


def _split_plan(a, b, out, xp, bias):
    """How :func:`matmul` computes ``a @ b``: ``(out, n, part, flops)``, where ``part(start, stop)``
    writes ``out`` for ``start:stop`` of a range of ``n`` (rows, columns or batch entries) at
    ``flops`` multiply-adds each; ``n`` is 0 when ``out`` is already computed."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype.kind != "f" or b.dtype.kind != "f":
        out = a @ b if out is None else xp.matmul(a, b, out=out)
        if bias is not None:
            out += bias
        return out, 0, None, 0
    if bias is not None and (a.ndim != 2 or b.ndim != 2):
        raise ValueError("matmul: a bias needs 2-D operands")
    if _blas_local is None or a.ndim == 0 or b.ndim == 0 or a.size == 0 or b.size == 0:
        out = np.matmul(a, b, out=out)  # (without OpenBLAS's thread-local count, the BLAS threads itself)
        if bias is not None:
            out += bias
        return out, 0, None, 0
    if a.ndim > 2 or b.ndim > 2:
        return _batched(a, b, out)
    if a.ndim == 1 and b.ndim == 1:
        return _one_blas_thread(lambda s, e: np.matmul(a, b, out=out), 0, 1), 0, None, 0
    m = a.shape[0] if a.ndim == 2 else 1
    k = a.shape[-1]
    n = b.shape[1] if b.ndim == 2 else 1
    if out is None:
        shape = (m,) * (a.ndim == 2) + (n,) * (b.ndim == 2)
        out = np.empty(shape, np.result_type(a, b))
    if m >= n and a.ndim == 2:
        def rows(s, e):
            np.matmul(a[s:e], b, out=out[s:e])
            if bias is not None:
                out[s:e] += bias
        return out, m, rows, float(n) * k
    if b.ndim == 2:
        def columns(s, e):
            np.matmul(a, b[:, s:e], out=out[..., s:e])
            if bias is not None:
                out[:, s:e] += bias[s:e]
        return out, n, columns, float(m) * k
    # matrix @ vector with fewer rows than columns: one call
    _one_blas_thread(lambda s, e: np.matmul(a, b, out=out), 0, 1)
    return out, 0, None, 0


def _batched(a, b, out):
    """:func:`_split_plan` of equally batched products, split over the first batch axis (views, never copies)."""
    if a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]:  # broadcast batches: NumPy's own loop
        return _one_blas_thread(lambda s, e: np.matmul(a, b, out=out), 0, 1), 0, None, 0
    if math.prod(a.shape[:-2]) == 1:  # one product: split its rows or columns
        if out is None:
            out = np.empty(a.shape[:-1] + (b.shape[-1],), np.result_type(a, b))
        first = (0,) * (a.ndim - 2)  # integer indexing: views, never copies
        _, n, part, flops = _split_plan(a[first], b[first], out[first], np, None)
        return out, n, part, flops
    if out is None:
        out = np.empty(a.shape[:-1] + (b.shape[-1],), np.result_type(a, b))
    flops = float(math.prod(a.shape[1:-2])) * a.shape[-2] * a.shape[-1] * b.shape[-1]
    return out, a.shape[0], lambda s, e: np.matmul(a[s:e], b[s:e], out=out[s:e]), flops


set_num_threads(_default_threads())
