"""ember.host_threads: products and elementwise kernels split over threads give NumPy's results."""

import threading

import numpy as np
import pytest

from ember import host_threads
from ember.ops import gelu_float32


@pytest.fixture
def two_threads():
    before = host_threads.get_num_threads()
    host_threads.set_num_threads(2)
    yield
    host_threads.set_num_threads(before)


def _rand(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("sa, sb", [
    ((300, 200), (200, 250)),      # rows split
    ((40, 300), (300, 900)),       # columns split
    ((20000,), (20000, 300)),      # vector @ matrix
    ((3000, 2000), (2000,)),       # matrix @ vector
    ((3000,), (3000,)),            # dot
    ((16, 3, 65, 64), (16, 3, 64, 65)),   # attention batches
    ((1, 500, 300), (1, 300, 400)),       # one product in a batch of one
    ((4, 1, 300, 300), (1, 300, 300)),    # broadcast batch: NumPy's loop
    ((0, 5), (5, 7)),              # empty
])
def test_matmul_equals_numpys(two_threads, sa, sb):
    a, b = _rand(*sa, seed=1), _rand(*sb, seed=2)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    got = host_threads.matmul(a, b)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_matmul_of_strided_views_writes_into_out(two_threads):
    base = _rand(600, 64, 3, seed=3)
    a = base[:, :, 1]                          # rows 3 floats apart
    b = _rand(400, 64, seed=4).T               # a transposed (F-ordered) operand
    out = np.full((700, 400), 7.0, np.float32)[50:650]
    result = host_threads.matmul(a, b, out=out)
    assert result is out
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_matmul_leaves_other_dtypes_to_numpy(two_threads):
    a = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(host_threads.matmul(a, a.T), a @ a.T)


def test_parallel_covers_the_range_once_and_raises_a_parts_error(two_threads):
    seen = np.zeros(1 << 20, np.int64)
    threads = set()

    def part(start, stop):
        threads.add(threading.get_ident())
        seen[start:stop] += 1
    host_threads.parallel(seen.size, part)
    assert (seen == 1).all()
    assert len(threads) == 2

    def failing(start, stop):
        if start > 0:
            raise ValueError("second part")
    with pytest.raises(ValueError, match="second part"):
        host_threads.parallel(1 << 20, failing)


def test_gelu_kernels_give_the_same_bits_on_one_and_two_threads(two_threads):
    x = _rand(1 << 19, seed=5) * 3
    g = _rand(1 << 19, seed=6)
    two = gelu_float32.gelu_forward(x), gelu_float32.gelu_tanh_forward(x)
    two_back = gelu_float32.gelu_backward(x, two[0][1], g)
    host_threads.set_num_threads(1)
    one = gelu_float32.gelu_forward(x), gelu_float32.gelu_tanh_forward(x)
    one_back = gelu_float32.gelu_backward(x, one[0][1], g)
    for p, q in zip(two, one):
        np.testing.assert_array_equal(p[0], q[0])
        np.testing.assert_array_equal(p[1], q[1])
    np.testing.assert_array_equal(two_back, one_back)


def test_set_num_threads_checks_its_argument():
    with pytest.raises(ValueError, match="positive integer"):
        host_threads.set_num_threads(0)
    with pytest.raises(ValueError, match="positive integer"):
        host_threads.set_num_threads(1.5)
