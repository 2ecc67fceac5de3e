"""ember.host_threads: products and elementwise kernels split over threads give NumPy's results."""

import os
import threading
import time

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


def _same_on_one_thread(run, rtol=1e-5, atol=1e-4):
    """``run()`` (a list of arrays) on the two threads of the fixture, then on one: they agree."""
    two = run()
    host_threads.set_num_threads(1)
    one = run()
    for p, q in zip(two, one):
        if rtol == 0 and atol == 0:
            np.testing.assert_array_equal(p, q)
        else:
            np.testing.assert_allclose(p, q, rtol=rtol, atol=atol)


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


def test_matmuls_share_one_hand_off_and_equal_numpys(two_threads):
    """Rows, columns, a batch, a product too small to split and a skipped one, in one call."""
    pairs = [(_rand(300, 200, seed=1), _rand(200, 250, seed=2)),
             (_rand(40, 300, seed=3), _rand(300, 900, seed=4)),
             (_rand(16, 3, 65, 64, seed=5), _rand(16, 3, 64, 65, seed=6)),
             (_rand(3, 4, seed=7), _rand(4, 5, seed=8)),
             None,
             (_rand(300, 200, seed=9).T, _rand(300, 250, seed=10))]
    got = host_threads.matmuls(*pairs)
    assert got[4] is None
    for pair, result in zip(pairs, got):
        if pair is not None:
            np.testing.assert_allclose(result, pair[0].astype(np.float64) @ pair[1], rtol=1e-4, atol=1e-3)


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


@pytest.mark.parametrize("rms", [False, True])
def test_norms_split_over_rows_match_one_thread(two_threads, rms):
    import ember
    import ember.nn.functional as F

    x, w, b, g = _rand(1200, 256, seed=7) + 3, _rand(256, seed=8), _rand(256, seed=9), _rand(1200, 256, seed=10)

    def run():
        tx, tw, tb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.rms_norm(tx, (256,), tw) if rms else F.layer_norm(tx, (256,), tw, tb)
        y.backward(ember.tensor(g))
        return [y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy()] + ([] if rms else [tb.grad.numpy()])

    _same_on_one_thread(run, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("layout", ["channels-last", "NCHW", "(N, C)"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_split_over_rows_matches_one_thread_exactly(two_threads, layout, training):
    """Batch norm's elementwise passes (centring, scale and shift, the input gradient) run on
    both threads, on either memory layout, and give the bits one thread gives."""
    import ember
    import ember.nn.functional as F
    from ember.nn.functional.normalization import _ChannelsView

    if layout == "(N, C)":  # sizes over twice _BATCH_NORM_PART, so that they split
        x, g = _rand(8192, 80, seed=11) * 2 + 1, _rand(8192, 80, seed=12)
    else:
        x, g = _rand(8, 16, 64, 64, seed=11) * 2 + 1, _rand(8, 16, 64, 64, seed=12)
        if layout == "channels-last":  # a channels-last convolution's output: NCHW shape, NHWC memory
            x, g = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) for a in (x, g))
    c = x.shape[1]
    w, b = _rand(c, seed=13), _rand(c, seed=14)

    def run():
        tx, tw, tb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
        if layout == "channels-last":  # keep the NHWC memory (a copy need not)
            tx = ember.Tensor._make(x, tx._device, None).requires_grad_()
            assert _ChannelsView(tx._data).rows
        mean, var = ember.tensor(_rand(c, seed=15)), ember.tensor(np.abs(_rand(c, seed=16)) + 0.5)
        y = F.batch_norm(tx, mean, var, tw, tb, training=training)
        y.backward(ember.tensor(g))
        return [y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy(), mean.numpy(), var.numpy()]

    _same_on_one_thread(run, rtol=0, atol=0)


@pytest.mark.parametrize("mask_kind", ["none", "per-batch bool", "shared additive", "causal"])
def test_attention_split_over_batches_matches_one_thread(two_threads, mask_kind):
    import ember
    import ember.nn.functional as F

    b, h, l, d = 16, 4, 64, 32
    q, k, v, g = (_rand(b, h, l, d, seed=s) for s in (11, 12, 13, 14))
    rng = np.random.default_rng(15)
    mask = {"none": None, "causal": None,
            "per-batch bool": rng.random((b, 1, l, l)) > 0.3,
            "shared additive": np.where(rng.random((l, l)) > 0.3, 0.0, -np.inf).astype(np.float32)}[mask_kind]

    def run():
        tq, tk, tv = (ember.tensor(a, requires_grad=True) for a in (q, k, v))
        y = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=None if mask is None else ember.tensor(mask),
                                           is_causal=mask_kind == "causal")
        y.backward(ember.tensor(g))
        return [y.detach().numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()]

    _same_on_one_thread(run, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sa, sb", [((300, 200), (200, 250)), ((40, 300), (300, 900))])
def test_matmul_adds_a_bias_to_every_row(two_threads, sa, sb):
    a, b, bias = _rand(*sa, seed=16), _rand(*sb, seed=17), _rand(sb[1], seed=18)
    np.testing.assert_allclose(host_threads.matmul(a, b, bias=bias), a.astype(np.float64) @ b + bias,
                               rtol=1e-4, atol=1e-3)


def test_ember_exposes_the_thread_count_like_torch():
    import ember

    before = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1 == host_threads.get_num_threads()
    finally:
        ember.set_num_threads(before)


@pytest.mark.parametrize("name", ["AdamW", "SGD"])
def test_optimizer_updates_split_over_threads_match_one_thread(two_threads, name):
    import ember
    from ember import optim

    shapes = [(600, 500), (10,), (300, 700), (3, 5)]

    def run():
        params = [ember.tensor(_rand(*s, seed=20 + i), requires_grad=True) for i, s in enumerate(shapes)]
        opt = getattr(optim, name)(params, lr=0.01, weight_decay=0.1, **({"momentum": 0.9} if name == "SGD" else {}))
        for step in range(3):
            for i, p in enumerate(params):
                p.grad = ember.tensor(_rand(*p.shape, seed=100 * step + i))
            opt.step()
        return [p.detach().numpy().copy() for p in params]

    _same_on_one_thread(run, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["SGD", "AdamW"])
def test_optimizer_packs_strided_gradients_without_a_contiguous_copy(two_threads, monkeypatch, name):
    """A convolution's weight gradient comes out channels-last (a transposed view): the flat
    update copies it row by row straight into the flat gradient, split over the two threads at
    a point inside its rows, and updates exactly as from a contiguous copy."""
    import ember
    from ember import optim
    from ember.tensor import Tensor

    # 294,912 + 3,000 + 5 elements: two parts, whose boundary falls inside the first's rows of 576
    shapes = [(512, 64, 3, 3), (100, 30), (5,)]

    def gradients(step):
        return [_rand(512, 3, 3, 64, seed=step).transpose(0, 3, 1, 2),  # channels-last, as a conv's dW
                _rand(100, 30, seed=step + 1),
                _rand(10, seed=step + 2)[::2]]                           # a strided vector

    def run(contiguous):
        params = [ember.tensor(_rand(*s, seed=20 + i), requires_grad=True) for i, s in enumerate(shapes)]
        opt = getattr(optim, name)(params, lr=0.01, **({"momentum": 0.9} if name == "SGD" else {}))
        for step in range(2):
            for p, g in zip(params, gradients(step)):
                p.grad = Tensor._make(np.ascontiguousarray(g) if contiguous else g, p._device, None)
            opt.step()
        return [p.detach().numpy().copy() for p in params]

    copied = []
    real_copy = np.ascontiguousarray
    monkeypatch.setattr(np, "ascontiguousarray", lambda a, *args, **kw: (copied.append(np.shape(a)), real_copy(a, *args, **kw))[1])
    strided = run(contiguous=False)
    monkeypatch.undo()
    assert (512, 64, 3, 3) not in copied
    contiguous = run(contiguous=True)
    for p, q in zip(strided, contiguous):
        np.testing.assert_array_equal(p, q)
    host_threads.set_num_threads(1)
    for p, q in zip(run(contiguous=False), contiguous):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1), (1, 0)])
def test_conv_chunks_split_over_threads_match_one_thread(two_threads, stride, padding):
    import ember
    import ember.nn.functional as F

    x, w, b = _rand(20, 16, 24, 24, seed=30), _rand(8, 16, 3, 3, seed=31), _rand(8, seed=32)

    def run():
        tx, tw, tb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(tx, tw, tb, stride=stride, padding=padding)
        y.backward(ember.tensor(_rand(*y.shape, seed=33)))
        return [y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()]

    _same_on_one_thread(run, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("batch, chunk_bytes", [(7, 1), (5, 60_000), (1, 1 << 21)])
def test_conv_split_by_samples_matches_one_thread_for_odd_batches(two_threads, monkeypatch, batch, chunk_bytes):
    import ember
    import ember.nn.functional as F
    from ember.nn.functional import conv

    monkeypatch.setattr(conv, "_HOST_CHUNK_BYTES", chunk_bytes)  # 1: a sample a chunk; 60 kB: 2 or 3 samples
    x, w = _rand(batch, 6, 12, 12, seed=34), _rand(4, 6, 3, 3, seed=35)

    def run():
        tx, tw = (ember.tensor(a, requires_grad=True) for a in (x, w))
        y = F.conv2d(tx, tw, padding=1)
        y.backward(ember.tensor(_rand(*y.shape, seed=36)))
        return [y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy()]

    _same_on_one_thread(run, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("first, last, step", [(0, 16, 3), (16, 32, 3), (0, 18, 7), (3, 4, 5), (0, 32, 32), (5, 5, 2)])
def test_conv_chunks_cover_a_range_in_near_equal_sizes(first, last, step):
    from ember.nn.functional.conv import _chunks_of

    chunks = _chunks_of(first, last, step)
    assert [n0 for n0, _ in chunks] == ([first] + [n1 for _, n1 in chunks[:-1]] if chunks else [])
    assert (chunks[-1][1] if chunks else first) == last
    sizes = [n1 - n0 for n0, n1 in chunks]
    assert all(0 < size <= step for size in sizes)
    assert len(chunks) == -(-(last - first) // step)
    assert not sizes or max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply, np.true_divide])
@pytest.mark.parametrize("sb", [(64, 65, 192), (1, 65, 192), (192,), ()])
def test_binary_ops_split_over_rows_equal_numpys(two_threads, ufunc, sb):
    a, b = _rand(64, 65, 192, seed=40), _rand(*sb, seed=41) + 3
    got = host_threads.binary(ufunc, a, np.asarray(b, np.float32))
    np.testing.assert_array_equal(got, ufunc(a, b))
    assert got.dtype == np.float32


@pytest.mark.parametrize("broadcast", [False, True])
def test_binary_ops_keep_the_channels_last_layout_of_their_operands(two_threads, broadcast):
    a = _rand(32, 16, 16, 64, seed=42).transpose(0, 3, 1, 2)  # NCHW view of an NHWC array
    b = _rand(1, 64, 1, 1, seed=43) if broadcast else _rand(32, 16, 16, 64, seed=44).transpose(0, 3, 1, 2)
    got = host_threads.binary(np.add, a, b)
    np.testing.assert_array_equal(got, a + b)
    assert got.transpose(0, 2, 3, 1).flags.c_contiguous  # the next convolution's NHWC view is free


def test_linear_backward_runs_dx_dw_and_db_in_one_split_and_matches_numpy(two_threads):
    import ember
    import ember.nn.functional as F

    x, w, b = _rand(8, 130, 96, seed=47), _rand(200, 96, seed=48), _rand(200, seed=49)
    g = _rand(8, 130, 200, seed=50)
    tx, tw, tb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    F.linear(tx, tw, tb).backward(ember.tensor(g))
    g2, x2 = g.reshape(-1, 200).astype(np.float64), x.reshape(-1, 96).astype(np.float64)
    np.testing.assert_allclose(tx.grad.numpy(), (g2 @ w).reshape(x.shape), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tw.grad.numpy(), g2.T @ x2, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(tb.grad.numpy(), g2.sum(0), rtol=1e-4, atol=1e-4)


def test_relu_split_over_rows_matches_numpy_and_keeps_the_layout(two_threads):
    import ember

    x = _rand(32, 16, 16, 64, seed=45).transpose(0, 3, 1, 2)  # channels-last, large enough to split
    x[0, 0, 0, :4] = [0.0, -0.0, np.nan, np.inf]
    g = _rand(32, 16, 16, 64, seed=46).transpose(0, 3, 1, 2)
    t = ember.tensor(x, requires_grad=True)
    y = ember.relu(t)
    y.backward(ember.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), np.maximum(x, 0))
    np.testing.assert_array_equal(t.grad.numpy(), g * (np.maximum(x, 0) > 0))
    assert y.detach().numpy().transpose(0, 2, 3, 1).flags.c_contiguous


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_rows_split_over_threads_match_one_thread(two_threads, smoothing):
    import ember
    import ember.nn.functional as F

    x = _rand(600, 1000, seed=50) * 4
    y = np.random.default_rng(51).integers(0, 1000, 600)
    y[::7] = -100

    def run():
        tx = ember.tensor(x, requires_grad=True)
        loss = F.cross_entropy(tx, ember.tensor(y), label_smoothing=smoothing)
        loss.backward()
        return [loss.detach().numpy(), tx.grad.numpy()]

    _same_on_one_thread(run, rtol=1e-6, atol=1e-9)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_splits_on_threads_of_its_own(two_threads):
    host_threads.parallel(1 << 20, lambda s, e: None)  # the parent's pool has started its thread
    pid = os.fork()
    if pid == 0:  # the child: a split must finish (the parent's worker thread does not exist here)
        seen = np.zeros(1 << 20, np.int64)

        def part(start, stop):
            seen[start:stop] += 1
        try:
            host_threads.parallel(seen.size, part)
            os._exit(0 if (seen == 1).all() else 1)
        except BaseException:
            os._exit(2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's split did not finish in 30 s")
