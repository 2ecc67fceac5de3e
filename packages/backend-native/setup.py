"""The C extension ``ember_native._kernels``; everything else is in pyproject.toml.

Building needs a C compiler (gcc or clang) and Python's headers. -fopenmp-simd lets the
``#pragma omp simd`` loops vectorise without linking OpenMP; -fno-trapping-math and
-fno-math-errno let the compiler turn conditional expressions into blends and keep
``sqrtf`` inline. None of them changes a result (unlike -ffast-math).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3", "-fopenmp-simd", "-fno-trapping-math", "-fno-math-errno"]

setup(ext_modules=[Extension("ember_native._kernels", ["src/ember_native/_kernels.c"], extra_compile_args=flags)])
