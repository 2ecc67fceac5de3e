"""Every CUDA C kernel source of ember-backend-cuda compiles with NVRTC (no GPU needed).

NVRTC is the compiler CuPy uses at run time, so a source that compiles here compiles on
the GPU machine too (up to the CUDA version). Skips where libnvrtc is not installed
(pip install nvidia-cuda-nvrtc-cu12).
"""

from __future__ import annotations

import pytest

nvrtc = pytest.importorskip("ember_cuda.nvrtc", reason="ember-backend-cuda's sources are not importable")
if not nvrtc.available():
    pytest.skip(f"cannot compile CUDA C here: {nvrtc.unavailable_reason()}", allow_module_level=True)

from ember_cuda import kernels  # noqa: E402
from ember_cuda.kernels.source import build  # noqa: E402


def _variants():
    for module in kernels.modules():
        name = module.__name__.rsplit(".", 1)[-1]
        for dtype, defines in module.VARIANTS:
            label = "-".join([name, dtype] + [f"{k}{v}" for k, v in sorted(defines.items())])
            yield pytest.param(module, dtype, defines, id=label)


@pytest.mark.parametrize("module, dtype, defines", list(_variants()))
def test_kernel_source_compiles(module, dtype, defines):
    ptx = nvrtc.compile_ptx(build(module.TEMPLATE, dtype, **defines), f"{module.__name__}.cu",
                            options=("--std=c++14", "-arch=compute_80"))
    for kernel in _kernel_names(module.TEMPLATE):
        assert f".entry {kernel}(" in ptx, f"{kernel} missing from the PTX of {module.__name__}"


def test_compile_errors_carry_the_log():
    with pytest.raises(nvrtc.CompileError, match="undefined"):
        nvrtc.compile_ptx('extern "C" __global__ void f(float* x) { x[0] = not_defined; }')


def test_every_kernel_module_is_tested():
    assert {m.__name__.rsplit(".", 1)[-1] for m in kernels.modules()} == set(kernels.MODULES)


def _kernel_names(template: str):
    import re

    return re.findall(r'extern "C" __global__ void (?:__launch_bounds__\(\w+\) )?(\w+)\(', template)
