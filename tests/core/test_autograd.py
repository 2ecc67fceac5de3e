"""The backward engine: topological order, accumulation, graph freeing, hooks, grad modes."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.autograd.engine import topological_order


def test_shared_node_runs_once_and_gradients_sum():
    x = ember.tensor([2.0], requires_grad=True)
    y = x * x  # used twice below
    z = y + y * 3.0
    calls = []
    y.register_hook(lambda g: calls.append(g.tolist()))
    z.backward(ember.ones(1))
    # dz/dy = 4 reaches y once, summed over both paths; dz/dx = 4 * 2x = 16
    assert calls == [[4.0]]
    assert x.grad.tolist() == [16.0]


def test_residual_chain_is_linear_not_exponential():
    x = ember.tensor([1.0], requires_grad=True)
    h = x
    for _ in range(60):  # 2**60 paths: a recursive engine that revisits shared nodes never returns
        h = h + h * 0.5
    h.backward(ember.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), [1.5 ** 60], rtol=1e-5)


def test_ten_thousand_op_chain_has_no_recursion_error():
    x = ember.tensor([1.0], requires_grad=True)
    h = x
    for _ in range(10_000):
        h = h * 1.0001
    h.backward(ember.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-3)


def test_topological_order_puts_consumers_first():
    x = ember.tensor([1.0], requires_grad=True)
    a = x * 2.0
    b = a + 1.0
    c = b * a
    order = topological_order([c.grad_fn])
    assert order.index(c.grad_fn) < order.index(b.grad_fn) < order.index(a.grad_fn)


def test_gradients_accumulate_across_backward_calls():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    (w * 3.0).backward(ember.ones(2))
    (w * 3.0).backward(ember.ones(2))
    assert w.grad.tolist() == [6.0, 6.0]


def test_broadcast_gradient_is_reduced_to_input_shape():
    a = ember.ones(4, 3, requires_grad=True)
    b = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = ember.ones(4, 1, requires_grad=True)
    (a * b + c).backward(ember.ones(4, 3))
    assert b.grad.shape == (3,) and b.grad.tolist() == [4.0, 4.0, 4.0]
    assert c.grad.shape == (4, 1) and c.grad.tolist() == [[3.0]] * 4


def test_non_scalar_backward_needs_gradient():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(3,\)"):
        (x * 2.0).backward()


def test_gradient_shape_mismatch_names_both_shapes():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)"):
        (x * 2.0).backward(ember.ones(2))


def test_second_backward_raises_unless_graph_retained():
    x = ember.tensor([3.0], requires_grad=True)
    y = x * x
    y.backward(ember.ones(1), retain_graph=True)
    y.backward(ember.ones(1))
    assert x.grad.tolist() == [12.0]
    with pytest.raises(RuntimeError, match="second time"):
        y.backward(ember.ones(1))


def test_backward_on_tensor_without_grad_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.ones(1).backward()


def test_no_grad_block_and_decorator():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        y = x * 2.0
        with ember.enable_grad():
            z = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @ember.no_grad()
    def f(t):
        return t * 2.0

    assert not f(x).requires_grad
    assert ember.is_grad_enabled()


def test_leaf_and_nonleaf_hooks_can_replace_gradients():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.register_hook(lambda g: g * 10.0)
    handle = x.register_hook(lambda g: g + 1.0)
    y.backward(ember.ones(2))
    assert x.grad.tolist() == [31.0, 31.0]
    handle.remove()
    x.grad = None
    (x * 1.0).backward(ember.ones(2))
    assert x.grad.tolist() == [1.0, 1.0]


def test_retain_grad_on_intermediate():
    x = ember.tensor([2.0], requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    (y * y).backward(ember.ones(1))
    assert y.grad.tolist() == [12.0]
    assert x.grad.tolist() == [36.0]


def test_autograd_grad_leaves_dot_grad_untouched():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = ember.tensor([3.0, 4.0], requires_grad=True)
    out = x * y
    gx, gy = ember.autograd.grad(out, (x, y), grad_outputs=ember.ones(2))
    assert gx.tolist() == [3.0, 4.0] and gy.tolist() == [1.0, 2.0]
    assert x.grad is None and y.grad is None


def test_autograd_grad_with_respect_to_intermediate_and_unused():
    x = ember.tensor([1.0], requires_grad=True)
    unused = ember.tensor([1.0], requires_grad=True)
    h = x * 2.0
    out = h * h
    (gh,) = ember.autograd.grad(out, h, grad_outputs=ember.ones(1), retain_graph=True)
    assert gh.tolist() == [4.0]
    with pytest.raises(RuntimeError, match="not used"):
        ember.autograd.grad(out, [x, unused], grad_outputs=ember.ones(1), retain_graph=True)
    gx, gu = ember.autograd.grad(out, [x, unused], grad_outputs=ember.ones(1), allow_unused=True)
    assert gx.tolist() == [8.0] and gu is None


def test_backward_inputs_restricts_accumulation():
    x = ember.tensor([1.0], requires_grad=True)
    y = ember.tensor([2.0], requires_grad=True)
    (x * y).backward(ember.ones(1), inputs=[x])
    assert x.grad.tolist() == [2.0] and y.grad is None


def test_inplace_change_of_saved_tensor_is_detected():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1.0
    c = b * b  # saves b
    with ember.no_grad():
        b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        c.backward(ember.ones(2))


def test_inplace_through_detached_view_is_detected():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1.0
    c = b * b
    b.detach().mul_(2.0)
    with pytest.raises(RuntimeError, match="in-place"):
        c.backward(ember.ones(2))


def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    w = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1.0)
    with ember.no_grad():
        w.add_(1.0)
    assert w.tolist() == [2.0, 2.0]


def test_inplace_change_of_unsaved_input_is_fine():
    a = ember.ones(2, requires_grad=True)
    b = a * 1.0
    c = b + 1.0  # Add saves nothing
    with ember.no_grad():
        b.add_(5.0)
    c.backward(ember.ones(2))
    assert a.grad.tolist() == [1.0, 1.0]


def test_detect_anomaly_names_the_op():
    x = ember.tensor([0.0], requires_grad=True)
    y = x ** 0.5  # d/dx sqrt at 0 is inf
    with ember.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="PowBackward.*(nan|inf)"):
            y.backward(ember.ones(1))


def test_gradcheck_catches_a_wrong_gradient():
    class WrongSquare(ember.autograd.Function):
        def forward(self, a):
            self.save_for_backward(a)
            return a * a

        def backward(self, grad):
            (a,) = self.saved
            return grad * a  # should be 2a

    x = ember.randn(3, dtype=ember.float64, requires_grad=True)
    with pytest.raises(AssertionError, match="gradcheck failed"):
        ember.autograd.gradcheck(lambda t: WrongSquare.apply(t), (x,))
    assert not ember.autograd.gradcheck(lambda t: WrongSquare.apply(t), (x,), raise_exception=False)
    assert ember.autograd.gradcheck(lambda t: t * t, (x,))


def test_graph_is_freed_after_backward():
    import gc
    import weakref

    x = ember.ones(1000, requires_grad=True)
    y = x * 2.0
    z = y * y
    saved = weakref.ref(z.grad_fn.saved[0])
    del y
    z.backward(ember.ones(1000))
    gc.collect()
    assert saved() is None, "saved arrays must be released after backward"


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.tensor([1, 2], requires_grad=True)


def test_requires_grad_propagates_and_leaves():
    a = ember.ones(2, requires_grad=True)
    b = ember.ones(2)
    c = a * b
    assert c.requires_grad and not c.is_leaf and a.is_leaf
    assert not (b * b).requires_grad
    d = c.detach()
    assert not d.requires_grad and d.is_leaf


def test_gradients_of_views_of_one_tensor_add_up():
    """x[0] twice, x[1:] and a narrow of x, plus a dense use of x: the slice gradients (kept
    sparse by the engine) and the dense one sum to the right values."""
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    a, b, c = x[0], x[1:], x[0]
    d = ember.narrow(x, 1, 1, 1)
    loss = (a * 2).sum() + (b * 3).sum() + c.sum() + (d * 5).sum() + (x * x).sum()
    loss.backward()
    expected = np.array([[3.0, 3.0 + 5.0], [3.0, 3.0 + 5.0], [3.0, 3.0 + 5.0]]) + 2 * x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected)


@pytest.mark.parametrize("blocks, expected_rows", [
    ([(0, 2), (2, 4), (4, 6)], [1, 1, 2, 2, 3, 3]),  # q, k, v rows of one projection: they tile it
    ([(4, 6), (0, 1)], [2, 0, 0, 0, 1, 1]),  # disjoint with a gap: the gap stays zero
    ([(0, 3), (2, 5)], [1, 1, 3, 2, 2, 0]),  # overlapping: the overlap adds
])
def test_gradients_of_row_blocks_of_one_tensor(blocks, expected_rows):
    w = ember.ones(6, 3, requires_grad=True)
    loss = sum((w[a:b] * float(i + 1)).sum() for i, (a, b) in enumerate(blocks))
    loss = loss + (ember.narrow(w, 1, 0, 1) * 0.0).sum()  # a column view: not a row block
    loss.backward()
    want = np.repeat(np.array(expected_rows, dtype=np.float32)[:, None], 3, axis=1)
    np.testing.assert_array_equal(w.grad.numpy(), want)
    w.grad = None
    sum((w[a:b] * float(i + 1)).sum() for i, (a, b) in enumerate(blocks)).backward()
    np.testing.assert_array_equal(w.grad.numpy(), want)


def test_slice_gradients_reach_hooks_and_intermediate_nodes():
    w = ember.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    h = w * 1.0  # an intermediate node whose gradient arrives as slices only
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    (h[0].sum() * 2 + h[2].sum()).backward()
    np.testing.assert_array_equal(seen[0], [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(w.grad.numpy(), [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])


def test_anomaly_mode_sees_non_finite_slice_gradients():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x[1:]
    with ember.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="detect_anomaly: .* nan"):
        y.backward(ember.tensor([float("nan"), 1.0]))
