"""Each fused CUDA kernel against the NumPy backend, forward and backward (needs a GPU)."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F

from .helpers import compare

rng = np.random.default_rng(0)

HALF_TOL = dict(rtol=3e-2, atol=3e-2)


def _fused_node(out, cls_name):
    node = out.grad_fn
    assert type(node).__name__ == cls_name, f"expected the fused {cls_name}, got {type(node).__name__}"
    assert getattr(node, "_fused", True), f"{cls_name} took its composed fallback"


def test_backend_tables(cuda):
    backend = cuda.backend
    for name in ("softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "adam_update",
                 "adamw_update"):
        assert name in backend.kernels
    assert {cls.__name__ for cls in backend.functions} >= {"SDPA", "LayerNorm", "CrossEntropy", "GELU",
                                                             "GELUTanh", "SiLU", "Embedding", "Linear"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(cuda, dtype, dim, log):
    x = rng.standard_normal((37, 300)) * 4
    fn = (lambda t: ember.log_softmax(t, dim=dim)) if log else (lambda t: ember.softmax(t, dim=dim))
    compare(fn, [x], cuda, dtype, rtol=1e-5 if dtype == "float32" else 1e-10, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_softmax_half(cuda, dtype):
    x = rng.standard_normal((16, 1000))
    compare(lambda t: ember.softmax(t, dim=-1), [x], cuda, dtype, ref_dtype="float32", **HALF_TOL)


def test_softmax_large_logits_finite(cuda):
    x = ember.tensor([[1e4, 0.0, -1e4]], device=cuda)
    assert ember.softmax(x, dim=-1).tolist() == [[1.0, 0.0, 0.0]]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy(cuda, reduction, dtype):
    n, c = 64, 1000
    x = rng.standard_normal((n, c)) * 3
    y = rng.integers(0, c, n)
    y[::7] = -100

    def fn(t):
        out = F.cross_entropy(t, ember.tensor(y, device=t.device), reduction=reduction)
        if t.device.type == "cuda":
            _fused_node(out, "CudaCrossEntropy")
        return out

    compare(fn, [x], cuda, dtype, rtol=1e-5 if dtype == "float32" else 1e-10, atol=1e-6)


def test_cross_entropy_bfloat16(cuda):
    x = rng.standard_normal((32, 500))
    y = rng.integers(0, 500, 32)
    compare(lambda t: F.cross_entropy(t, ember.tensor(y, device=t.device)), [x], cuda, "bfloat16",
            ref_dtype="float32", **HALF_TOL)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_wide_linear_has_aligned_rows(cuda, bias, dtype):
    """An output 1001 wide is written into rows padded to 1008 (fast cuBLAS kernels), and is
    still the right (3, 5, 1001) tensor, forward and backward, through the ops that read it."""
    from ember_cuda.kernels.linear import padded_width

    n = 1001
    assert padded_width(n) == 1008
    x, w, b = rng.standard_normal((3, 5, 64)), rng.standard_normal((n, 64)) * 0.1, rng.standard_normal(n)

    c = rng.standard_normal(n)

    def fn(x, w, b=None):
        out = F.linear(x, w, b)
        if out.device.type == "cuda":
            assert out._data.strides[-2] == 1008 * out._data.itemsize
        return (out * ember.tensor(c, dtype=out.dtype, device=out.device)).sum(-1) + out[..., 3:900].mean(-1)

    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=5e-2, atol=1e-1)
    compare(fn, [x, w, b] if bias else [x, w], cuda, dtype, ref_dtype="float32" if dtype != "float32" else None, **tol)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cross_entropy_reads_padded_logits(cuda, dtype):
    """The LM-head path: logits with padded rows go into the fused cross-entropy without a
    copy, and the gradient keeps the padded rows all the way back into the Linear."""
    v = 777
    x, w = rng.standard_normal((4, 6, 32)), rng.standard_normal((v, 32)) * 0.3
    y = rng.integers(0, v, 24)
    y[5] = -100

    def fn(x, w):
        logits = F.linear(x, w).reshape(-1, v)
        out = F.cross_entropy(logits, ember.tensor(y, device=x.device))
        if x.device.type == "cuda":
            _fused_node(out, "CudaCrossEntropy")
            assert out.grad_fn.saved[0].strides[0] == 784 * logits._data.itemsize  # read in place
        return out

    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else HALF_TOL
    compare(fn, [x, w], cuda, dtype, ref_dtype="float32" if dtype != "float32" else None, **tol)


@pytest.mark.parametrize("rms", [False, True])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_norm(cuda, rms, affine, dtype):
    n = 768
    x = rng.standard_normal((4, 33, n)) * 2 + 0.5
    w = rng.standard_normal(n)
    b = rng.standard_normal(n)

    def fn(t, wt, bt):
        if rms:
            out = F.rms_norm(t, (n,), wt if affine else None, eps=1e-5)
        else:
            out = F.layer_norm(t, (n,), wt if affine else None, bt if affine else None, eps=1e-5)
        return out + 0 * (wt.sum() + bt.sum())  # every input gets a gradient, zero where unused

    tol = dict(rtol=2e-4, atol=2e-4) if dtype == "float32" else dict(rtol=1e-9, atol=1e-9)
    compare(fn, [x, w, b], cuda, dtype, **tol)


def test_layer_norm_bfloat16(cuda):
    x = rng.standard_normal((64, 256))
    w = rng.standard_normal(256)
    b = rng.standard_normal(256)
    compare(lambda t, wt, bt: F.layer_norm(t, (256,), wt, bt), [x, w, b], cuda, "bfloat16", ref_dtype="float32",
            rtol=5e-2, atol=2e-1)


@pytest.mark.parametrize("kind", ["gelu", "gelu_tanh", "silu"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_activations(cuda, kind, dtype):
    x = rng.standard_normal((1000, 37)) * 3
    x[0, :4] = [50.0, -50.0, 0.0, 1e-3]
    fn = {"gelu": lambda t: F.gelu(t), "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
          "silu": lambda t: F.silu(t)}[kind]
    if dtype == "bfloat16":
        compare(fn, [x], cuda, dtype, ref_dtype="float32", **HALF_TOL)
    else:
        # float32 against the float64 truth: both float32 versions round differently in the tails
        compare(fn, [x], cuda, dtype, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6,
                ref_dtype="float64")


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_update(cuda, decoupled, amsgrad, dtype):
    w0 = rng.standard_normal((300, 70))
    grads = [rng.standard_normal(w0.shape) for _ in range(4)]
    result = {}
    for device in ("cpu", cuda):
        w = ember.tensor(w0, dtype=dtype, device=device, requires_grad=True)
        cls = ember.optim.AdamW if decoupled else ember.optim.Adam
        opt = cls([w], lr=1e-2, weight_decay=0.1, amsgrad=amsgrad, fused=True if device != "cpu" else None)
        for g in grads:
            w.grad = ember.tensor(g, dtype=dtype, device=device)
            opt.step()
        result[str(device)] = (w.detach().numpy(), opt.state[w]["exp_avg_sq"].numpy())
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(result["cuda:0"][0], result["cpu"][0], rtol=tol, atol=tol)
    np.testing.assert_allclose(result["cuda:0"][1], result["cpu"][1], rtol=tol, atol=tol)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("head_dim", [16, 48, 64, 128])
@pytest.mark.parametrize("block_scores", [1 << 25, 6 * 150 * 64])  # one query block; three blocks
def test_flash_attention(cuda, causal, head_dim, block_scores, monkeypatch):
    from ember_cuda.kernels import flash_attention

    monkeypatch.setattr(flash_attention, "BLOCK_SCORES", block_scores)
    b, h, l = 2, 3, 150
    q, k, v = (rng.standard_normal((b, h, l, head_dim)) for _ in range(3))

    def fn(qt, kt, vt):
        out = F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
        if qt.device.type == "cuda":
            _fused_node(out, "CudaSDPA")
        return out

    compare(fn, [q, k, v], cuda, "float32", rtol=1e-4, atol=1e-5)


def test_flash_attention_cross_lengths(cuda):
    q = rng.standard_normal((2, 40, 64))
    k = rng.standard_normal((2, 77, 64))
    v = rng.standard_normal((2, 77, 64))
    compare(lambda a, b_, c: F.scaled_dot_product_attention(a, b_, c), [q, k, v], cuda, "float32",
            rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_flash_attention_half(cuda, dtype):
    q, k, v = (rng.standard_normal((1, 2, 130, 64)) for _ in range(3))
    compare(lambda a, b_, c: F.scaled_dot_product_attention(a, b_, c, is_causal=True), [q, k, v], cuda, dtype,
            ref_dtype="float32", **HALF_TOL)


def test_flash_attention_memory_is_linear(cuda):
    """From L = 4096 to 8192 the score matrix would grow 4x (8 heads x 256 MiB at 8192);
    flash attention's scratch stays one block's, so its memory beyond the inputs grows less than 2x."""
    h, e = 8, 64

    def extra_memory(l):
        q, k, v = (ember.randn(1, h, l, e, device=cuda, requires_grad=True) for _ in range(3))
        ember.cuda.synchronize()
        ember.cuda.reset_peak_memory_stats()
        base = ember.cuda.memory_allocated()
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out.sum().backward()
        ember.cuda.synchronize()
        return ember.cuda.max_memory_allocated() - base

    small, large = extra_memory(4096), extra_memory(8192)
    scores = h * 8192 * 8192 * 4
    assert large < 2 * small, f"attention used {small / 2**20:.0f} MiB at L=4096 but {large / 2**20:.0f} at 8192"
    assert large < scores / 2, f"attention used {large / 2**20:.0f} MiB beyond its inputs at L=8192"


def test_masked_attention_falls_back(cuda):
    q, k, v = (rng.standard_normal((1, 2, 20, 16)) for _ in range(3))
    mask = rng.random((20, 20)) > 0.3
    mask[:, 0] = True
    compare(lambda a, b_, c: F.scaled_dot_product_attention(a, b_, c, attn_mask=ember.tensor(mask, device=a.device)),
            [q, k, v], cuda, "float32", rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_backward(cuda, dtype, padding_idx):
    """Repeated indices (a run of 300 of index 3) sum into their row; the padding row stays zero."""
    idx = rng.integers(0, 50, size=(8, 97))
    idx[0, :] = 3
    idx[1, :] = 3
    idx[2, :] = 3
    idx_cpu, idx_cuda = ember.tensor(idx), ember.tensor(idx, device=cuda)
    weight = rng.standard_normal((60, 40))
    # bfloat16: row 3 sums 300 upstream gradients, each rounded to bfloat16 (about 0.4% apart)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype != "bfloat16" else dict(ref_dtype="float32", rtol=3e-2, atol=0.2)

    def fn(w):
        return F.embedding(idx_cuda if w.device.type == "cuda" else idx_cpu, w, padding_idx=padding_idx)

    compare(fn, [weight], cuda, dtype, **tol)


def test_embedding_backward_is_deterministic(cuda):
    idx = ember.tensor(rng.integers(0, 100, size=(16, 512)), device=cuda)
    weight = ember.randn(100, 256, device=cuda, requires_grad=True)
    g = ember.randn(16, 512, 256, device=cuda)
    grads = []
    for _ in range(2):
        weight.grad = None
        F.embedding(idx, weight).backward(g)
        grads.append(weight.grad.numpy())
    assert type(F.embedding(idx, weight).grad_fn).__name__ == "CudaEmbedding"
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("dtype, out_dtype", [("float32", "float32"), ("bfloat16", "float32"),
                                              ("bfloat16", "bfloat16"), ("float16", "float32")])
def test_batched_matmul(cuda, dtype, out_dtype):
    """cuBLAS strided-batched products on row-major views: transposes by flag, slices, accumulation."""
    import cupy

    from ember_cuda.gemm import batched_matmul

    a = rng.standard_normal((3, 20, 7))
    b = rng.standard_normal((3, 30, 7))
    c0 = rng.standard_normal((3, 40, 30))
    to = lambda x, dt: cupy.asarray(ember.tensor(x, dtype=dt).numpy()) if dt == "bfloat16" else cupy.asarray(x.astype(dt))  # noqa: E731
    ga, gb, gc = to(a, dtype), to(b, dtype), to(c0, out_dtype)
    back = lambda x: np.asarray(ember.tensor(x.get()).float().numpy(), np.float64)  # noqa: E731
    a_, b_ = back(ga), back(gb)
    batched_matmul(ga, gb, gc[:, 5:25], trans_b=True, beta=1.0)  # rows 5..24 += a b^T
    want = back(to(c0, out_dtype))
    want[:, 5:25] += a_ @ b_.transpose(0, 2, 1)
    tol = 1e-5 if out_dtype == "float32" and dtype == "float32" else 3e-2
    np.testing.assert_allclose(back(gc), want, rtol=tol, atol=tol)
    out = batched_matmul(ga[:, :6], ga[:, :6], cupy.empty((3, 7, 7), out_dtype), trans_a=True, alpha=0.5)
    np.testing.assert_allclose(back(out), 0.5 * a_[:, :6].transpose(0, 2, 1) @ a_[:, :6], rtol=tol, atol=tol)
