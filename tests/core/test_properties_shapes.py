"""Property tests (hypothesis) for shapes: broadcasting, reshape, permute, and reductions."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import ember  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None)


def _values(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       seed=st.integers(0, 2 ** 16))
def test_add_broadcasts_like_numpy_and_grads_reduce_back(shapes, seed):
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    a_np, b_np = _values(sa, seed), _values(sb, seed + 1)
    a = ember.tensor(a_np, dtype=ember.float64, requires_grad=True)
    b = ember.tensor(b_np, dtype=ember.float64, requires_grad=True)
    out = a + b
    assert out.shape == np.broadcast_shapes(sa, sb) == result
    np.testing.assert_allclose(out.detach().numpy(), a_np + b_np)
    cot = _values(result, seed + 2)
    out.backward(ember.tensor(cot, dtype=ember.float64))
    assert a.grad.shape == sa and b.grad.shape == sb
    # d(sum(cot * (a + b)))/da is cot summed over the axes a was broadcast along
    expected_a = cot.sum(axis=tuple(range(len(result) - len(sa)))) if len(result) > len(sa) else cot
    expected_a = expected_a.sum(axis=tuple(i for i, n in enumerate(sa) if n == 1), keepdims=True) \
        if sa else np.asarray(expected_a.sum())
    np.testing.assert_allclose(a.grad.numpy(), np.reshape(expected_a, sa), atol=1e-10)
    np.testing.assert_allclose(b.grad.numpy().sum(), cot.sum(), atol=1e-9)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 16))
def test_expand_gradient_sums_back(shapes, seed):
    (sa, _), result = shapes.input_shapes, shapes.result_shape
    a_np = _values(sa, seed)
    a = ember.tensor(a_np, dtype=ember.float64, requires_grad=True)
    out = a.expand(*result)
    np.testing.assert_array_equal(out.detach().numpy(), np.broadcast_to(a_np, result))
    cot = _values(result, seed + 1)
    out.backward(ember.tensor(cot, dtype=ember.float64))
    assert a.grad.shape == sa
    np.testing.assert_allclose(a.grad.numpy().sum(), cot.sum(), atol=1e-9)


@st.composite
def shape_and_factoring(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    n = int(np.prod(shape))
    # a second shape with the same number of elements: a random factoring of n (with some 1s)
    factors = []
    remaining = n
    for p in (2, 3):
        while remaining and remaining % p == 0 and draw(st.booleans()):
            factors.append(p)
            remaining //= p
    factors.append(remaining)
    factors += [1] * draw(st.integers(0, 2))
    order = draw(st.permutations(factors))
    new = tuple(order)
    if draw(st.booleans()) and n > 0:
        i = draw(st.integers(0, len(new) - 1))
        new = new[:i] + (-1,) + new[i + 1:]
    return shape, new


@SETTINGS
@given(case=shape_and_factoring(), seed=st.integers(0, 2 ** 16))
def test_reshape_round_trips(case, seed):
    shape, new = case
    x_np = _values(shape, seed)
    x = ember.tensor(x_np, dtype=ember.float64, requires_grad=True)
    y = x.reshape(new)
    assert int(np.prod(y.shape)) == x_np.size
    np.testing.assert_array_equal(y.detach().numpy(), x_np.reshape(new))
    back = y.reshape(shape)
    assert back.shape == shape
    np.testing.assert_array_equal(back.detach().numpy(), x_np)
    cot = _values(shape, seed + 1)
    back.backward(ember.tensor(cot, dtype=ember.float64))
    np.testing.assert_array_equal(x.grad.numpy(), cot)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_permute_then_inverse_is_identity(data, seed):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=4))
    perm = data.draw(st.permutations(range(len(shape))))
    inverse = list(np.argsort(perm))
    x_np = _values(shape, seed)
    x = ember.tensor(x_np, dtype=ember.float64, requires_grad=True)
    y = x.permute(*perm)
    assert y.shape == tuple(shape[p] for p in perm)
    np.testing.assert_array_equal(y.detach().numpy(), x_np.transpose(perm))
    z = y.permute(*inverse)
    assert z.shape == shape
    np.testing.assert_array_equal(z.detach().numpy(), x_np)
    cot = _values(shape, seed + 1)
    z.backward(ember.tensor(cot, dtype=ember.float64))
    np.testing.assert_array_equal(x.grad.numpy(), cot)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_sum_over_all_dims_equals_sum_of_sums(data, seed):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    x_np = _values(shape, seed)
    x = ember.tensor(x_np, dtype=ember.float64)
    total = x.sum().item()
    order = data.draw(st.permutations(range(len(shape))))
    partial = x
    for d in sorted(order, reverse=True):  # reduce one dimension at a time, highest first
        partial = partial.sum(dim=d)
    assert partial.shape == ()
    np.testing.assert_allclose(partial.item(), total, rtol=1e-10, atol=1e-10)
    dims = tuple(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
    kept = x.sum(dim=dims, keepdim=True)
    assert kept.shape == tuple(1 if i in dims else n for i, n in enumerate(shape))
    np.testing.assert_allclose(kept.sum().item(), total, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(kept.numpy(), x_np.sum(axis=dims, keepdims=True), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_sum_gradient_is_ones_in_input_shape(data, seed):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    dims = tuple(data.draw(st.sets(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=1)))
    keepdim = data.draw(st.booleans())
    x = ember.tensor(_values(shape, seed), dtype=ember.float64, requires_grad=True)
    out = x.sum(dim=dims, keepdim=keepdim)
    out.backward(ember.ones(*out.shape, dtype=ember.float64))
    assert x.grad.shape == shape
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_split_then_cat_round_trips(data, seed):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    dim = data.draw(st.integers(0, len(shape) - 1))
    size = data.draw(st.integers(1, shape[dim]))
    x_np = _values(shape, seed)
    x = ember.tensor(x_np, dtype=ember.float64, requires_grad=True)
    pieces = x.split(size, dim)
    assert sum(p.shape[dim] for p in pieces) == shape[dim]
    y = ember.cat(pieces, dim)
    np.testing.assert_array_equal(y.detach().numpy(), x_np)
    cot = _values(shape, seed + 1)
    y.backward(ember.tensor(cot, dtype=ember.float64))
    np.testing.assert_array_equal(x.grad.numpy(), cot)
