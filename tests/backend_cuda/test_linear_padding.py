"""CudaLinear's padded rows and split backward, run on NumPy arrays (no GPU needed).

The GPU tests check the same path against the CPU on a real device; this one keeps its
index arithmetic (padded widths, the aligned columns and the ragged rest of the backward)
under CI, with cuBLAS's strided-batched product replaced by NumPy's.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

linear = pytest.importorskip("ember_cuda.kernels.linear")


def _numpy_batched_matmul(a, b, out, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, tf32=None):
    """What ``ember_cuda.gemm.batched_matmul`` computes, writing into ``out`` (a view) in place."""
    a = a.transpose(0, 2, 1) if trans_a else a
    b = b.transpose(0, 2, 1) if trans_b else b
    product = alpha * (a.astype(np.float64) @ b.astype(np.float64))
    out[...] = product if beta == 0 else product + beta * out  # beta 0: out is not read (cuBLAS)
    return out


@pytest.fixture
def numpy_linear(monkeypatch):
    monkeypatch.setattr(linear, "batched_matmul", _numpy_batched_matmul)
    monkeypatch.setattr(linear, "float32_matmuls", lambda tf32: contextlib.nullcontext())
    monkeypatch.setattr(linear, "_ones", lambda xp, n, dtype: np.ones(n, dtype))

    def make(needs):
        node = object.__new__(linear.CudaLinear)
        node.xp = np
        node.needs_input_grad = needs
        return node

    return make


def test_padded_width():
    assert linear.padded_width(50257) == 50272
    assert linear.padded_width(1001) == 1008
    assert linear.padded_width(4096) == 4096  # already a multiple of 16
    assert linear.padded_width(100) == 100  # narrow outputs stay contiguous


@pytest.mark.parametrize("n", [1001, 1024, 530])
def test_wide_linear_forward_and_backward(numpy_linear, n):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 24)).astype(np.float32)
    w = rng.standard_normal((n, 24)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    node = numpy_linear((True, True, True))
    out = node.forward(x, w, b)
    np.testing.assert_allclose(out, x @ w.T + b, rtol=1e-5, atol=1e-5)
    width = linear.padded_width(n)
    assert out.strides[-2] == width * 4 and out.shape == (3, 5, n)

    g = rng.standard_normal((3, 5, n)).astype(np.float32)
    padded = np.zeros((3, 5, width), np.float32)[..., :n]  # the gradient arrives with the same padded rows
    padded[...] = g
    gx, gw, gb = node.backward(padded if width != n else g)
    g2, x2, w64 = g.reshape(-1, n).astype(np.float64), x.reshape(-1, 24).astype(np.float64), w.astype(np.float64)
    np.testing.assert_allclose(gx, (g2 @ w64).reshape(x.shape), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gw, g2.T @ x2, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gb, g2.sum(0), rtol=1e-5, atol=1e-4)


def test_cross_entropy_reads_padded_rows_in_place():
    from ember_cuda.kernels.cross_entropy import _rows

    logits = np.zeros((4, 1008), np.float32)[:, :1001]
    rows, ld = _rows(np, logits)
    assert rows is logits and ld == 1008
    dense = np.zeros((4, 1001), np.float32)
    assert _rows(np, dense)[1] == 1001
    transposed = np.zeros((1001, 4), np.float32).T
    rows, ld = _rows(np, transposed)
    assert rows.flags.c_contiguous and ld == 1001
