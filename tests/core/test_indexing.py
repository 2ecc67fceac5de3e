"""Indexing: every index kind forward against NumPy, gradients (repeated indices, masks) against
PyTorch, views and their version counter, __setitem__, and the errors bad indices raise."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import ember

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")

RNG = np.random.default_rng(0)
BASE = RNG.standard_normal((4, 5, 3))
MASK = BASE[..., 0] > 0           # (4, 5)
ROWS = np.array([3, 0, 3, 3, -1])  # repeated and negative


# (name, index built from a "lib" namespace: ``t(array)`` turns an index array into that lib's tensor)
def _cases():
    return [
        ("int", lambda t: 2),
        ("negative_int", lambda t: -1),
        ("tuple_ints", lambda t: (1, 2)),
        ("all_ints", lambda t: (1, 2, 0)),
        ("slice", lambda t: slice(1, 3)),
        ("slice_step", lambda t: (slice(None), slice(0, 5, 2))),
        ("negative_slice", lambda t: (slice(-3, None), slice(None, -1))),
        ("none", lambda t: (None, 1)),
        ("ellipsis", lambda t: (Ellipsis, 1)),
        ("ellipsis_none", lambda t: (1, Ellipsis, None)),
        ("empty_slice", lambda t: slice(2, 2)),
        ("int_tensor", lambda t: t(ROWS)),
        ("int_tensor_2d", lambda t: t(np.array([[0, 1], [1, 1]]))),
        ("int_list", lambda t: [0, 2, 2]),
        ("tensor_then_slice", lambda t: (t(ROWS), slice(1, 4))),
        ("slice_then_tensor", lambda t: (slice(None), t(np.array([4, 4, 0])))),
        ("two_tensors", lambda t: (t(np.array([0, 3, 0])), t(np.array([1, 1, 1])))),
        ("separated_tensors", lambda t: (t(np.array([0, 3, 0])), slice(None), t(np.array([2, 2, 0])))),
        ("int_and_tensor", lambda t: (1, t(np.array([4, 0, 4])))),
        ("ellipsis_tensor", lambda t: (Ellipsis, t(np.array([2, 2])))),
        ("none_and_tensor", lambda t: (None, t(np.array([1, 1])))),
        ("bool_mask_full", lambda t: t(BASE > 0.5)),
        ("bool_mask_leading", lambda t: t(MASK)),
        ("bool_mask_rows", lambda t: t(np.array([True, False, True, True]))),
        ("slice_then_mask", lambda t: (slice(None), t(np.array([False, True, True, False, True])))),
        ("mask_and_int", lambda t: (t(np.array([True, False, True, True])), 2)),
        ("zero_d_tensor", lambda t: t(np.array(2))),
    ]


CASES = _cases()
IDS = [c[0] for c in CASES]


def _ember_index(build):
    return build(lambda a: ember.tensor(a))


def _numpy_index(build):
    return build(lambda a: np.asarray(a))


@pytest.mark.parametrize("name,build", CASES, ids=IDS)
def test_forward_matches_numpy(name, build):
    x = ember.tensor(BASE)
    got = x[_ember_index(build)]
    expected = BASE[_numpy_index(build)]
    assert isinstance(got, ember.Tensor)
    assert got.shape == np.shape(expected)
    np.testing.assert_array_equal(got.numpy(), expected)


@needs_torch
@pytest.mark.parametrize("name,build", CASES, ids=IDS)
def test_gradient_matches_torch(name, build):
    import torch

    x = ember.tensor(BASE, requires_grad=True)
    tx = torch.tensor(BASE, requires_grad=True)
    out = x[_ember_index(build)]
    tout = tx[build(lambda a: torch.tensor(a))]
    cot = np.random.default_rng(1).standard_normal(tuple(tout.shape))
    out.backward(ember.tensor(cot))
    tout.backward(torch.tensor(cot))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)


def test_repeated_index_accumulates():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[ember.tensor([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


@needs_torch
@pytest.mark.parametrize("shape,index", [((50, 16), (200,)), ((50,), (300,)), ((7, 3, 2), (4, 5))])
def test_row_gather_large_repeated_matches_torch(shape, index):
    """The fast scatter-add path of ``x[idx]`` (embedding lookups) with many repeats and negatives."""
    import torch

    rng = np.random.default_rng(3)
    base = rng.standard_normal(shape)
    idx = rng.integers(-shape[0], shape[0], index)
    x = ember.tensor(base, requires_grad=True)
    tx = torch.tensor(base, requires_grad=True)
    out, tout = x[ember.tensor(idx)], tx[torch.tensor(idx)]
    cot = rng.standard_normal(tuple(tout.shape))
    out.backward(ember.tensor(cot))
    tout.backward(torch.tensor(cot))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-10)


def test_float32_gradient_keeps_dtype():
    x = ember.randn(6, 4, requires_grad=True)
    x[ember.tensor([1, 1, 5])].sum().backward()
    assert x.grad.dtype == ember.float32
    np.testing.assert_array_equal(x.grad.numpy()[1], np.full(4, 2.0, np.float32))


@needs_torch
def test_bool_mask_gradient():
    import torch

    mask = BASE > 0
    x = ember.tensor(BASE, requires_grad=True)
    (x[ember.tensor(mask)] * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(mask, 3.0, 0.0))
    tx = torch.tensor(BASE, requires_grad=True)
    (tx[torch.tensor(mask)] * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_bool_mask_from_comparison_gradient():
    x = ember.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    mask = ember.tensor(x.detach().numpy() > 0)
    x[mask].sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 1.0]


@needs_torch
@pytest.mark.parametrize("op", ["gather", "scatter_add_input", "scatter_add_src", "index_select",
                                "take_along_dim", "masked_fill"])
def test_index_ops_with_repeats_match_torch(op):
    import torch

    rng = np.random.default_rng(7)
    base = rng.standard_normal((5, 6))
    idx = rng.integers(0, 5, (8, 6))
    src = rng.standard_normal((8, 6))
    sel = np.array([4, 0, 4, 4, 2])
    mask = rng.standard_normal((1, 6)) > 0

    def run(lib, tensor):
        x = tensor(base, True)
        s = tensor(src, True)
        i = tensor(idx, False)
        if op == "gather":
            out = lib.gather(x, 0, tensor(idx[:4], False))
        elif op in ("scatter_add_input", "scatter_add_src"):
            out = lib.scatter_add(x, 0, i, s)
        elif op == "index_select":
            out = lib.index_select(x, 0, tensor(sel, False))
        elif op == "take_along_dim":
            out = lib.take_along_dim(x, tensor(idx[:3], False), dim=0)
        else:
            out = lib.masked_fill(x, tensor(mask, False), 0.5)
        cot = np.random.default_rng(8).standard_normal(tuple(out.shape))
        out.backward(tensor(cot, False))
        return out, x.grad, s.grad

    ours = run(ember, lambda a, g: ember.tensor(a, requires_grad=g))
    theirs = run(torch, lambda a, g: torch.tensor(a, requires_grad=g))
    np.testing.assert_allclose(ours[0].detach().numpy(), theirs[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), atol=1e-12)
    if op.startswith("scatter_add"):
        np.testing.assert_allclose(ours[2].numpy(), theirs[2].numpy(), atol=1e-12)


# -- views and the version counter ------------------------------------------------------------

def test_basic_slice_is_a_view():
    x = ember.zeros(3, 4)
    y = x[1]
    y.fill_(7.0)
    assert x.numpy()[1].tolist() == [7.0] * 4
    assert np.shares_memory(x._data, y._data)


def test_view_shares_version_counter():
    x = ember.ones(3, 4)
    y = x[:, 1:]
    assert x._version == y._version
    with ember.no_grad():
        x.mul_(2.0)
    assert y._version == x._version == 1


def test_inplace_change_through_view_is_detected():
    w = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    base = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    row = base[0]
    out = (w * row).sum()  # Mul saves ``row``
    base.add_(1.0)          # changes ``row`` through the base tensor
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.backward()


def test_advanced_index_copies():
    x = ember.zeros(3, 4)
    y = x[ember.tensor([0, 1])]
    y.fill_(5.0)
    assert float(x.numpy().sum()) == 0.0


# -- __setitem__ ----------------------------------------------------------------------------------

def test_setitem_under_no_grad():
    w = ember.zeros(4, 3, requires_grad=True)
    with ember.no_grad():
        w[0] = 1.0
        w[1, 1:] = ember.tensor([2.0, 3.0])
        w[ember.tensor([2, 3]), 0] = ember.tensor([4.0, 5.0])
        w[ember.tensor(np.array([[False, False, False], [False, False, False], [False, False, True],
                                 [False, False, False]]))] = 9.0
    assert w.detach().numpy().tolist() == [[1.0, 1.0, 1.0], [0.0, 2.0, 3.0], [4.0, 0.0, 9.0], [5.0, 0.0, 0.0]]
    assert w.requires_grad and w.is_leaf
    assert w._version == 4


def test_setitem_on_tensor_requiring_grad_raises():
    w = ember.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w[0] = 1.0


def test_setitem_plain_tensor_and_list_index():
    x = ember.zeros(5)
    x[[0, 4]] = 2.0
    x[ember.tensor(1)] = 3.0
    assert x.tolist() == [2.0, 3.0, 0.0, 0.0, 2.0]


def test_raw_index_converts_tensors():
    x = ember.zeros(3, 4)
    raw = ember.ops.indexing.raw_index((ember.tensor([0, 2]), slice(None)), x)
    assert isinstance(raw[0], np.ndarray) and raw[1] == slice(None)
    with pytest.raises(IndexError, match="dtype"):
        ember.ops.indexing.raw_index(ember.tensor([0.5]), x)


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", [5, (0, 9), -6, (0, 0, 0, 0)], ids=["int", "second", "negative", "too_many"])
def test_out_of_range_index_names_index_and_shape(index):
    x = ember.zeros(5, 3, 2)
    with pytest.raises(IndexError) as info:
        x[index]
    message = str(info.value)
    assert "(5, 3, 2)" in message
    shown = index if isinstance(index, int) else index[-1 if index[-1] != 0 else 0]
    assert str(shown) in message


def test_out_of_range_tensor_index():
    x = ember.zeros(4, 2)
    with pytest.raises(IndexError, match=r"\(4, 2\)"):
        x[ember.tensor([0, 7])]


def test_bad_mask_shape():
    x = ember.zeros(4, 2)
    with pytest.raises(IndexError, match=r"\(4, 2\)"):
        x[ember.tensor([True, False])]


def test_float_index_rejected():
    x = ember.zeros(4)
    with pytest.raises(IndexError, match="integer or bool"):
        x[ember.tensor([1.0])]


def test_gather_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match="same number of dimensions|as many dimensions"):
        x.gather(1, ember.tensor([0, 1]))
    with pytest.raises(IndexError, match=r"\(3, 4\)"):
        x.gather(1, ember.tensor([[5]]))
    with pytest.raises(IndexError, match="dimension 2"):
        x.gather(2, ember.tensor([[0]]))


def test_index_select_and_masked_fill_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(IndexError, match=r"\(3, 4\)"):
        x.index_select(0, ember.tensor([3]))
    with pytest.raises(RuntimeError, match=r"\(5,\).*\(3, 4\)"):
        x.masked_fill(ember.zeros(5, dtype=ember.bool), 1.0)
