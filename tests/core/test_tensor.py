"""The Tensor API: creation, dtypes and promotion, conversion, in-place ops, errors."""

from __future__ import annotations

import numpy as np
import pytest

import ember


def test_creation_defaults_follow_pytorch():
    assert ember.tensor([1.0, 2.0]).dtype is ember.float32
    assert ember.tensor([1, 2]).dtype is ember.int64
    assert ember.tensor([True]).dtype is ember.bool
    assert ember.tensor(np.array([1, 2], dtype=np.int32)).dtype is ember.int32
    assert ember.zeros(2, 3).shape == (2, 3) and ember.zeros((2, 3)).shape == (2, 3)
    assert ember.ones(2).tolist() == [1.0, 1.0]
    assert ember.full((2,), 7).dtype is ember.int64
    assert ember.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert ember.arange(5).tolist() == [0, 1, 2, 3, 4] and ember.arange(5).dtype is ember.int64
    assert ember.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    np.testing.assert_allclose(ember.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(ember.eye(3).numpy(), np.eye(3))
    x = ember.randn(2, 3)
    assert ember.zeros_like(x).shape == (2, 3) and ember.ones_like(x).dtype is ember.float32


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(3.0)
    t = ember.tensor(a)
    s = ember.from_numpy(a)
    a[0] = 100.0
    assert t.tolist()[0] == 0.0 and s.tolist()[0] == 100.0
    assert ember.as_tensor(a).numpy() is not None


def test_set_default_dtype():
    try:
        ember.set_default_dtype(ember.float64)
        assert ember.tensor([1.0]).dtype is ember.float64 and ember.zeros(1).dtype is ember.float64
        with pytest.raises(TypeError, match="floating"):
            ember.set_default_dtype(ember.int32)
    finally:
        ember.set_default_dtype(ember.float32)


def test_python_scalars_do_not_upcast():
    x = ember.ones(2, dtype=ember.float16)
    assert (x * 2.5).dtype is ember.float16
    assert (2.5 * x).dtype is ember.float16
    assert (ember.ones(2) + 1).dtype is ember.float32
    assert (ember.tensor([1, 2]) * 2).dtype is ember.int64
    assert (ember.tensor([1, 2]) * 2.5).dtype is ember.float32
    assert (ember.tensor([1, 2]) / 2).dtype is ember.float32


@pytest.mark.parametrize("a,b,expected", [
    ("float32", "float64", "float64"),
    ("int64", "float32", "float32"),
    ("int32", "int64", "int64"),
    ("float16", "bfloat16", "float32"),
    ("bool", "int32", "int32"),
    ("bfloat16", "float32", "float32"),
])
def test_promotion(a, b, expected):
    x = ember.ones(2, dtype=a)
    y = ember.ones(2, dtype=b)
    assert (x + y).dtype is ember.dtypes.as_dtype(expected)


def test_mixed_dtype_gradients_come_back_in_each_inputs_dtype():
    a = ember.ones(2, dtype=ember.float32, requires_grad=True)
    b = ember.ones(2, dtype=ember.float64, requires_grad=True)
    (a * b).backward(ember.ones(2, dtype=ember.float64))
    assert a.grad.dtype is ember.float32 and b.grad.dtype is ember.float64


def test_bfloat16_and_float16_storage():
    x = ember.tensor([1.0, 2.0, 3.0], dtype=ember.bfloat16, requires_grad=True)
    y = (x * x)
    y.backward(ember.ones(3, dtype=ember.bfloat16))
    assert x.grad.dtype is ember.bfloat16
    np.testing.assert_allclose(x.grad.float().numpy(), [2.0, 4.0, 6.0])
    assert ember.ones(2, dtype="float16").to(ember.float32).dtype is ember.float32


def test_conversions():
    t = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.item if t.numel() == 4 else False
    assert ember.tensor([5.0]).item() == 5.0
    with pytest.raises(ValueError, match="exactly one element"):
        t.item()
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert t.numpy().dtype == np.float32
    assert t.to(ember.int64).dtype is ember.int64 and t.long().tolist() == [[1, 2], [3, 4]]
    assert t.double().dtype is ember.float64 and t.to("float16").dtype is ember.float16
    c = t.clone()
    assert c.tolist() == t.tolist() and c._data is not t._data
    with pytest.raises(RuntimeError, match="requires grad"):
        ember.ones(1, requires_grad=True).numpy()
    assert float(ember.tensor(2.5)) == 2.5 and int(ember.tensor(3)) == 3
    assert len(t) == 2 and [row.tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]]


def test_ambiguous_truth_value():
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ember.ones(2))
    assert bool(ember.ones(1))


def test_inplace_ops_bump_version_and_work():
    t = ember.zeros(3)
    v = t._version
    t.add_(2.0).mul_(3.0)
    assert t.tolist() == [6.0, 6.0, 6.0] and t._version == v + 2
    t.sub_(ember.ones(3), alpha=2.0)
    assert t.tolist() == [4.0, 4.0, 4.0]
    t.fill_(1.5)
    assert t.tolist() == [1.5] * 3
    t.copy_(ember.tensor([1.0, 2.0, 3.0]))
    assert t.tolist() == [1.0, 2.0, 3.0]
    t.zero_()
    assert t.tolist() == [0.0] * 3
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        t.copy_(ember.ones(2))


def test_unsupported_data_is_a_clear_error():
    with pytest.raises(TypeError, match="can't make a tensor"):
        ember.tensor(["a", "b"])
    with pytest.raises(TypeError, match="unsupported dtype"):
        ember.tensor(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="unknown dtype name"):
        ember.zeros(2, dtype="float128x")
    with pytest.raises(ValueError, match="non-negative"):
        ember.zeros(-1)
    with pytest.raises(TypeError, match="operand"):
        ember.ones(2) + "a"


def test_manual_seed_makes_sampling_reproducible():
    ember.manual_seed(123)
    a = ember.randn(5).tolist(), ember.rand(3).tolist(), ember.randint(0, 10, (4,)).tolist()
    ember.manual_seed(123)
    b = ember.randn(5).tolist(), ember.rand(3).tolist(), ember.randint(0, 10, (4,)).tolist()
    assert a == b
    state = ember.get_rng_state()
    c = ember.randn(3).tolist()
    ember.set_rng_state(state)
    assert ember.randn(3).tolist() == c
    r = ember.rand(1000).numpy()
    assert 0.0 <= r.min() and r.max() < 1.0 and abs(r.mean() - 0.5) < 0.05
    assert sorted(ember.randperm(6).tolist()) == list(range(6))


def test_repr_is_readable():
    assert repr(ember.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(ember.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(ember.ones(1, requires_grad=True) * 2.0)
    assert "dtype=ember.float64" in repr(ember.ones(1, dtype=ember.float64))
