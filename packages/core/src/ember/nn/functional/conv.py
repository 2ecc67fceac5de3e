"""Convolutions: conv1d, conv2d, conv_transpose1d, conv_transpose2d.

Each is one fused primitive (:class:`~ember.autograd.Function`) taking and returning NCHW
arrays; the 1-d forms run the 2-d kernels on a height-1 view. The kernels are im2col + one
matrix product, computed channels-last (NHWC), as PyTorch's ``channels_last`` format is:

* forward: the padded input's kernel-sized windows are copied into a "columns" matrix of
  shape ``(N*Ho*Wo, kh*kw*C)`` (one copy of a strided view whose contiguous runs are a
  kernel row: ``kw*C`` floats), and ``out = columns @ weight`` is one BLAS GEMM whose
  result is already the (N, Ho, Wo, O) output;
* backward: ``grad_weight = columns.T @ grad_out`` (one GEMM; the columns are recomputed
  rather than kept, as PyTorch keeps only the input) and
  ``grad_input = col2im(grad_out @ weight.T)``, where col2im adds each kernel offset's
  columns back into the input with ``kh*kw`` strided slice additions. For stride 1 (every
  3x3 "same" conv) the input gradient is instead the convolution of ``grad_out`` with the
  flipped kernel, because im2col (copies) is cheaper than col2im (read-modify-writes);
* 1x1 stride-1 convolutions skip im2col: their columns are the input itself;
* groups (depthwise included) are a batch of GEMMs, one per group;
* a transposed convolution's forward is a convolution's input gradient and vice versa.

NOTE: outputs (and input gradients) are returned as the NCHW *view* of a channels-last
array, so the ops between two convolutions (batch norm, ReLU, additions) keep that layout
and the next convolution's switch to NHWC is free; on an NCHW-contiguous input it is one
transposing copy.

The batch is processed in chunks that keep the columns matrix about 2 MiB, so it stays in
cache between being written and being multiplied; every chunk of a call is written into the
same buffer (:class:`_Columns`), so no chunk allocates or page-faults. Only functions that NumPy and CuPy
share are used (strided slicing and ``lib.stride_tricks.as_strided``, ``matmul``,
``empty``/``zeros``), so the same code runs on every backend whose ``xp`` spells NumPy.
"""

from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...host_threads import MIN_FLOPS, matmul, split
from ...tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]

#: Target size in bytes of one chunk's columns matrix on the host (see the module docstring).
#: 2 MiB measured best for the CIFAR ResNet-18 step on a quiet 2-core EPYC (0.8-0.9x the step
#: time of 8 MiB; when other machines load the memory system, the sizes come out even).
_HOST_CHUNK_BYTES = 2 << 20
#: On accelerators there is no cache to fit, only memory to bound.
_DEVICE_CHUNK_BYTES = 512 << 20


# -- argument handling (shared with pooling) ---------------------------------------------


def _ntuple(value, n: int, name: str, fn: str) -> tuple[int, ...]:
    """``value`` (an int or a sequence of n ints) as a tuple of n Python ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(f"{fn}: {name} must be an int or a tuple of {n} ints, got {value!r}")


def _positive(values: tuple[int, ...], name: str, fn: str, allow_zero: bool = False) -> tuple[int, ...]:
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{fn}: {name} must be {bound}, got {values if len(values) > 1 else values[0]}")
    return values


def _check_input(input, fn: str, spatial: int) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim not in (spatial + 1, spatial + 2):
        layout = "(N, C, L) or (C, L)" if spatial == 1 else "(N, C, H, W) or (C, H, W)"
        raise ValueError(f"{fn}: expected a {spatial + 2}-d input {layout} (or {spatial + 1}-d without a batch "
                         f"dimension), got input of shape {tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{fn}: expected a floating-point input, got dtype {input.dtype}")


def _as_4d(shape: tuple[int, ...], spatial: int) -> tuple[int, ...]:
    """The NCHW shape under which an (N)C(L) / (N)CHW array is processed."""
    if len(shape) == spatial + 1:
        shape = (1, *shape)
    if spatial == 1:
        shape = (shape[0], shape[1], 1, shape[2])
    return shape


def _out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    return (size + pad - dilation * (kernel - 1) - 1) // stride + 1


def _work_dtype(dtype):
    """float32 and float64 run natively; half types are computed in float32 (BLAS has no half)."""
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


# -- array kernels (raw xp arrays; NHWC unless said otherwise) -------------------------------


def _window(a, i: int, j: int, out_hw, stride, dilation):
    """The view of ``a[..., H, W]`` that kernel offset (i, j) reads for every output pixel."""
    h0, w0 = i * dilation[0], j * dilation[1]
    return a[..., h0:h0 + stride[0] * (out_hw[0] - 1) + 1:stride[0], w0:w0 + stride[1] * (out_hw[1] - 1) + 1:stride[1]]


def _pad(xp, x, pads, value=0, channels_last=False):
    """``x[..., H, W]`` (``x[..., H, W, C]`` when ``channels_last``) padded by
    ``pads = ((top, bottom), (left, right))`` with ``value``."""
    (t, b), (lft, r) = pads
    if not (t or b or lft or r):
        return x
    c = x.shape[-1:] if channels_last else ()
    *lead, h, w = x.shape[:x.ndim - len(c)]
    out = xp.empty((*lead, h + t + b, w + lft + r, *c), dtype=x.dtype)
    o = out if channels_last else out[..., None]   # a trailing axis to index past either way
    if t:
        o[..., :t, :, :] = value
    if b:
        o[..., t + h:, :, :] = value
    if lft:
        o[..., t:t + h, :lft, :] = value
    if r:
        o[..., t:t + h, lft + w:, :] = value
    o[..., t:t + h, lft:lft + w, :] = x if channels_last else x[..., None]
    return out


class _Geometry:
    """Everything about one 2-d convolution but the values: sizes, stride, padding, groups."""

    __slots__ = ("kh", "kw", "stride", "pads", "dilation", "groups", "in_hw", "out_hw")

    def __init__(self, kernel, stride, pads, dilation, groups, in_hw, out_hw):
        self.kh, self.kw = kernel
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.in_hw, self.out_hw = in_hw, out_hw

    @property
    def trivial(self) -> bool:
        """A 1x1, stride-1, unpadded convolution: columns are the input itself."""
        return (self.kh == self.kw == 1 and self.stride == (1, 1)
                and self.pads == ((0, 0), (0, 0)) and self.in_hw == self.out_hw)


def _nhwc(xp, x):
    """An (n, C, H, W) array as a C-contiguous (n, H, W, C) one: a view when ``x`` is
    channels-last, which is what every convolution here returns."""
    return xp.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _by_group(x, groups: int):
    """(..., C) -> a (groups, ..., C/groups) view."""
    *lead, c = x.shape
    x = x.reshape(*lead, groups, c // groups)
    return x.transpose(len(lead), *range(len(lead)), len(lead) + 1)


def _windows(xp, a, g: _Geometry, groups: int):
    """The (groups, n, Ho, Wo, kh, kw, C/groups) view of a padded channels-last ``a``
    (n, Hp, Wp, C) whose element ``[., b, oh, ow, i, j, c]`` is ``a[b, oh*sh + i*dh, ow*sw + j*dw, c]``."""
    n, _, _, c = a.shape
    sn, sh, sw, sc = a.strides
    (st_h, st_w), (dh, dw) = g.stride, g.dilation
    cg = c // groups
    return xp.lib.stride_tricks.as_strided(a, (groups, n, *g.out_hw, g.kh, g.kw, cg),
                                           (cg * sc, sn, sh * st_h, sw * st_w, sh * dh, sw * dw, sc))


class _Columns:
    """im2col on channels-last input, one batch chunk at a time: ``columns(x)`` turns a chunk
    ``x`` (n, H, W, C) into its columns (groups, n*Ho*Wo, kh*kw*C/groups).

    Row ``(b, oh, ow)``, column ``(i, j, c)`` holds ``xpad[b, oh*sh + i*dh, ow*sw + j*dw, c]``:
    one copy of a strided view of the padded input, whose contiguous runs are ``kw*C`` long
    (a kernel row's taps are neighbouring pixels, each a contiguous run of channels). The
    padded chunk (whose zero border is written once) and the columns are buffers made once
    and overwritten by every chunk, so a chunk costs two copies and no allocation.
    """

    def __init__(self, xp, g: _Geometry, chunk: int, channels: int, dtype):
        self.xp, self.g = xp, g
        self.padded = None
        if not g.trivial and any(p for pair in g.pads for p in pair):
            (t, b), (lft, r) = g.pads
            h, w = g.in_hw
            self.padded = xp.zeros((chunk, h + t + b, w + lft + r, channels), dtype=dtype)
            self.interior = self.padded[:, t:t + h, lft:lft + w]
            self.windows = _windows(xp, self.padded, g, g.groups)
        per_sample = channels * g.kh * g.kw * g.out_hw[0] * g.out_hw[1]
        self.buffer = None if g.trivial and g.groups == 1 else xp.empty(chunk * per_sample, dtype=dtype)

    def __call__(self, x):
        g, n = self.g, x.shape[0]
        rows = n * g.out_hw[0] * g.out_hw[1]
        if self.buffer is None:
            return x.reshape(1, rows, -1)
        if self.padded is None:
            windows = _windows(self.xp, x, g, g.groups)
        else:
            self.interior[:n] = x
            windows = self.windows[:, :n]
        cols = self.buffer[:windows.size].reshape(windows.shape)
        cols[...] = windows
        return cols.reshape(g.groups, rows, -1)


def _uncols(xp, cols, g: _Geometry, n: int):
    """col2im, the adjoint of :class:`_Columns`: columns -> (n, H, W, C), summing overlaps (a view)."""
    h, w = g.in_hw
    (t, b), (lft, r) = g.pads
    groups = cols.shape[0]
    c = cols.shape[2] // (g.kh * g.kw) * groups
    acc = xp.zeros((n, h + t + b, w + lft + r, c), dtype=cols.dtype)
    cols = cols.reshape(groups, n, *g.out_hw, g.kh, g.kw, c // groups)
    dst = _windows(xp, acc, g, groups)
    for i in range(g.kh):
        for j in range(g.kw):
            dst[:, :, :, :, i, j] += cols[:, :, :, :, i, j]
    return acc[:, t:t + h, lft:lft + w]


def _gemm_into(xp, a, b, out):
    """``out`` (P, groups*X) = the batch of GEMMs ``a @ b``, (groups, P, K) @ (groups, K, X),
    laid side by side along the columns (one GEMM straight into ``out`` when groups == 1)."""
    if a.shape[0] == 1:
        matmul(a[0], b[0], out=out, xp=xp)
    else:
        out.reshape(out.shape[0], a.shape[0], -1)[...] = matmul(a, b).transpose(1, 0, 2)


def _weight_matrix(xp, w, groups: int, flip: bool = False):
    """The weight (O, C/groups, kh, kw) as the (groups, kh*kw*C/groups, O/groups) matrices
    that multiply :class:`_Columns`' columns; with ``flip``, the (groups, kh*kw*O/groups, C/groups)
    matrices of the flipped, transposed kernel (for the input gradient of a stride-1 conv)."""
    o, cg, kh, kw = w.shape
    w = w.reshape(groups, o // groups, cg, kh, kw)
    if flip:
        w = w[..., ::-1, ::-1].transpose(0, 3, 4, 1, 2)   # (g, i, j, og, cg)
        return xp.ascontiguousarray(w).reshape(groups, kh * kw * (o // groups), cg)
    # (g, og, i, j, cg) is a cheap copy (a full transpose is not); BLAS reads its transpose as is.
    w = xp.ascontiguousarray(w.transpose(0, 1, 3, 4, 2)).reshape(groups, o // groups, kh * kw * cg)
    return w.transpose(0, 2, 1)


def _chunk(xp, g: _Geometry, channels: int, itemsize: int, n: int) -> int:
    """How many samples a chunk holds so its columns matrix stays near the target size."""
    target = _HOST_CHUNK_BYTES if xp is np else _DEVICE_CHUNK_BYTES
    per_sample = channels * g.kh * g.kw * g.out_hw[0] * g.out_hw[1] * itemsize
    return max(1, min(n, target // max(per_sample, 1)))


def _chunks_of(first: int, last: int, step: int):
    """Samples first:last in as few chunks of at most ``step`` as can be, of sizes differing by
    at most one (16 samples in chunks of at most 3: five of 3 and one of 1 would leave a
    chunk's GEMM a third the size of the others; this gives 3, 3, 3, 3, 2, 2)."""
    count = last - first
    k = -(-count // step)
    return [(first + count * i // k, first + count * (i + 1) // k) for i in range(k)]


def _split_samples(xp, g: _Geometry, n_all: int, in_channels: int, out_channels: int, part) -> None:
    """``part(first, last)`` over the batch, split evenly by samples over ember's threads.

    Splitting whole chunks instead gave the threads unequal work whenever the chunk count was
    odd or the last chunk short: CIFAR ResNet-18's batch of 32 in chunks of 3, 7 or 14 samples
    went 15/17, 14/18 and 14/18 between the two threads, and its 1x1 convolutions (one chunk)
    ran on one thread.
    """
    flops = g.out_hw[0] * g.out_hw[1] * out_channels * g.kh * g.kw * in_channels / g.groups
    split(xp, n_all, part, work_per_item=flops, minimum=MIN_FLOPS)


def _conv_out(xp, x, w, g: _Geometry):
    """Convolution forward: x (N, C, H, W), w (O, C/groups, kh, kw) -> (N, O, Ho, Wo), the
    NCHW view of a channels-last (N, Ho, Wo, O) array."""
    n_all, c = x.shape[:2]
    o = w.shape[0]
    xh = _nhwc(xp, x)
    wm = _weight_matrix(xp, w, g.groups)
    out = xp.empty((n_all, *g.out_hw, o), dtype=x.dtype)
    step = _chunk(xp, g, c, x.dtype.itemsize, n_all)

    def samples(first, last):
        columns = _Columns(xp, g, step, c, x.dtype)  # each thread its own buffers
        for n0, n1 in _chunks_of(first, last, step):
            _gemm_into(xp, columns(xh[n0:n1]), wm, out[n0:n1].reshape(-1, o))

    _split_samples(xp, g, n_all, c, o, samples)
    return out.transpose(0, 3, 1, 2)



def _flipped(g: _Geometry):
    """For a stride-1 convolution whose padding is at most the dilated kernel's extent, the
    geometry of the "full" convolution that maps the output gradient to the input gradient
    (with the kernel flipped and transposed); None when there is none."""
    if g.stride != (1, 1) or g.trivial:
        return None
    ext = (g.dilation[0] * (g.kh - 1), g.dilation[1] * (g.kw - 1))
    # The full convolution reads ``in + ext`` rows: ``ext - top`` zeros above the output
    # gradient and the rest below (more than ``ext - bottom`` when rows of the input were
    # never read, as with a transposed convolution's output_padding).
    pads = tuple((e - p0, n_in - n_out + p0) for e, (p0, _), n_in, n_out in zip(ext, g.pads, g.in_hw, g.out_hw))
    if any(p < 0 for pair in pads for p in pair):
        return None
    return _Geometry((g.kh, g.kw), (1, 1), pads, g.dilation, g.groups, g.out_hw, g.in_hw)


def _conv_grads(xp, x, w, grad, g: _Geometry, need_x: bool, need_w: bool, x_shape=None):
    """Gradients of a convolution w.r.t. its input (shape ``x_shape``, returned as the NCHW
    view of a channels-last array) and weight.

    ``x`` may be None when only the input gradient is wanted (it is not needed for it).
    The input gradient is ``col2im(grad @ weight.T)``; for stride 1 it is computed instead as
    the convolution of ``grad`` with the flipped kernel (im2col is cheaper than col2im).
    """
    x_shape = x.shape if x_shape is None else x_shape
    n_all, c, h, w_in = x_shape
    o = w.shape[0]
    groups = g.groups
    gh = _nhwc(xp, grad)
    xh = _nhwc(xp, x) if need_w else None
    full = _flipped(g) if need_x else None
    wm = _weight_matrix(xp, w, groups, flip=full is not None) if need_x else None
    gx = xp.empty((n_all, h, w_in, c), dtype=grad.dtype) if need_x else None
    step = _chunk(xp, g, max(c, o), grad.dtype.itemsize, n_all)
    weight_grads = []  # one weight-gradient sum per range of chunks (per thread)

    def samples(first, last):
        x_columns = _Columns(xp, g, step, c, grad.dtype) if need_w else None
        grad_columns = _Columns(xp, full, step, o, grad.dtype) if full is not None else None
        gw = xp.zeros((groups, g.kh * g.kw * (c // groups), o // groups), dtype=grad.dtype) if need_w else None
        for n0, n1 in _chunks_of(first, last, step):
            rows = _by_group(gh[n0:n1].reshape(-1, o), groups)                  # (groups, P, O/groups)
            if need_w:
                gw += matmul(x_columns(xh[n0:n1]).transpose(0, 2, 1), rows)
            if need_x:
                if full is not None:
                    _gemm_into(xp, grad_columns(gh[n0:n1]), wm, gx[n0:n1].reshape(-1, c))
                elif g.trivial:
                    _gemm_into(xp, rows, wm.transpose(0, 2, 1), gx[n0:n1].reshape(-1, c))
                else:
                    gx[n0:n1] = _uncols(xp, matmul(rows, wm.transpose(0, 2, 1)), g, n1 - n0)
        weight_grads.append(gw)

    _split_samples(xp, g, n_all, c, o, samples)
    gw = None
    if need_w:
        gw = weight_grads[0]
        for part in weight_grads[1:]:
            gw += part
        gw = gw.reshape(groups, g.kh, g.kw, c // groups, o // groups).transpose(0, 4, 3, 1, 2).reshape(w.shape)
    return (gx.transpose(0, 3, 1, 2) if need_x else None), gw


# -- primitives ---------------------------------------------------------------------------


class _ConvFn(Function):
    """Fused convolution, bias included. Arrays are processed as NCHW: ``x4``/``w4`` are the
    4-d shapes of the input and weight, ``y4`` that of the output and ``out_shape`` the shape
    returned (without the batch of an unbatched input, without the height of a 1-d one)."""

    def forward(self, x, w, b=None, *, geometry, x4, w4, y4, out_shape):
        self.save_for_backward(x, w)
        self.geometry, self.x4, self.w4, self.y4 = geometry, x4, w4, y4
        work = _work_dtype(x.dtype)
        out = _conv_out(self.xp, x.reshape(x4).astype(work, copy=False), w.reshape(w4).astype(work, copy=False),
                        geometry)
        if b is not None:
            out += b.astype(work, copy=False).reshape(1, -1, 1, 1)
        return out.reshape(out_shape).astype(x.dtype, copy=False)

    def backward(self, grad):
        x, w = self.saved
        need = self.needs_input_grad
        work = _work_dtype(x.dtype)
        grad = grad.astype(work, copy=False).reshape(self.y4)
        gx, gw = _conv_grads(self.xp, x.reshape(self.x4).astype(work, copy=False),
                             w.reshape(self.w4).astype(work, copy=False), grad, self.geometry, need[0], need[1])
        gx = None if gx is None else gx.reshape(x.shape)
        gw = None if gw is None else gw.reshape(w.shape)
        if len(need) == 2:
            return gx, gw
        return gx, gw, (grad.sum(axis=(0, 2, 3)) if need[2] else None)


class _ConvTransposeFn(Function):
    """Fused transposed convolution, bias included: the adjoint of :class:`_ConvFn` in its input.
    ``geometry`` is that of the convolution it is the adjoint of (whose input is our output)."""

    def forward(self, x, w, b=None, *, geometry, x4, w4, y4, out_shape):
        self.save_for_backward(x, w)
        self.geometry, self.x4, self.w4, self.y4 = geometry, x4, w4, y4
        work = _work_dtype(x.dtype)
        out, _ = _conv_grads(self.xp, None, w.reshape(w4).astype(work, copy=False),
                             x.reshape(x4).astype(work, copy=False), geometry, True, False, x_shape=y4)
        if b is not None:
            out += b.astype(work, copy=False).reshape(1, -1, 1, 1)
        return out.reshape(out_shape).astype(x.dtype, copy=False)

    def backward(self, grad):
        x, w = self.saved
        need = self.needs_input_grad
        xp, g = self.xp, self.geometry
        work = _work_dtype(x.dtype)
        grad = grad.astype(work, copy=False).reshape(self.y4)
        w_ = w.reshape(self.w4).astype(work, copy=False)
        gx = gw = None
        if need[0]:
            gx = _conv_out(xp, grad, w_, g).reshape(x.shape)
        if need[1]:
            # d/dw <x, conv_transpose(w)> is a convolution's weight gradient with the roles swapped:
            # the output gradient is the convolution's input and x its output gradient.
            _, gw = _conv_grads(xp, grad, w_, x.reshape(self.x4).astype(work, copy=False), g, False, True)
            gw = gw.reshape(w.shape)
        if len(need) == 2:
            return gx, gw
        return gx, gw, (grad.sum(axis=(0, 2, 3)) if need[2] else None)


def _final_shape(batched: bool, n: int, c: int, hw, spatial: int) -> tuple[int, ...]:
    size = tuple(hw[2 - spatial:])
    return (n, c, *size) if batched else (c, *size)


class _ModePadFn(Function):
    """Reflect / replicate / circular padding of the last ``len(pads)`` axes: a gather along each
    axis (forward) and its adjoint (backward: the interior slice plus one add per padded row)."""

    def forward(self, x, *, pads, mode):
        xp = self.xp
        self.maps = []
        out = x
        for k, (before, after) in enumerate(pads):
            axis = x.ndim - len(pads) + k
            index = np.pad(np.arange(x.shape[axis]), (before, after), mode=_NP_PAD_MODES[mode])
            self.maps.append((axis, before, x.shape[axis], index))
            out = xp.take(out, xp.asarray(index), axis=axis)
        return out

    def backward(self, grad):
        for axis, before, size, index in reversed(self.maps):
            lead = (slice(None),) * axis
            out = grad[lead + (slice(before, before + size),)].copy()
            for r in [*range(before), *range(before + size, len(index))]:
                out[lead + (int(index[r]),)] += grad[lead + (r,)]
            grad = out
        return grad


_NP_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_mode(input, pads, mode: str, fn: str):
    """``input`` padded on its last ``len(pads)`` axes by ``pads = ((before, after), ...)``
    with ``mode`` ('reflect', 'replicate' or 'circular'); used by the Conv layers' padding_mode."""
    if mode not in _NP_PAD_MODES:
        raise ValueError(f"{fn}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got {mode!r}")
    sizes = tuple(input.shape[-len(pads):])
    for size, (before, after) in zip(sizes, pads):
        limit = size - 1 if mode == "reflect" else size
        if mode != "replicate" and max(before, after) > limit:
            raise ValueError(f"{fn}: {mode} padding of {max(before, after)} needs an input size of at least "
                             f"{max(before, after) + (mode == 'reflect')} along each padded axis, got input of shape "
                             f"{tuple(input.shape)}")
    if not any(b or a for b, a in pads):
        return input
    return _ModePadFn.apply(input, pads=tuple(pads), mode=mode)


# -- public functions ---------------------------------------------------------------------


def _resolve_padding(padding, kernel, stride, dilation, spatial: int, fn: str):
    """``padding`` (int, tuple, 'same' or 'valid') as ((top, bottom), (left, right)) for the 2-d view."""
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * spatial
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride if spatial > 1 else stride[0]}); use an explicit padding")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
        else:
            raise ValueError(f"{fn}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    else:
        pads = [(p, p) for p in _positive(_ntuple(padding, spatial, "padding", fn), "padding", fn, True)]
    return ((0, 0), *pads) if spatial == 1 else tuple(pads)


def _conv_setup(input, weight, bias, stride, padding, dilation, groups, spatial, fn, transposed=False,
                output_padding=0):
    _check_input(input, fn, spatial)
    if not isinstance(weight, Tensor):
        raise TypeError(f"{fn}: expected weight to be a Tensor, got {type(weight).__name__}")
    if weight.ndim != spatial + 2:
        raise ValueError(f"{fn}: expected a {spatial + 2}-d weight, got weight of shape {tuple(weight.shape)}")
    if weight.dtype != input.dtype or (bias is not None and bias.dtype != input.dtype):
        what = f"weight {weight.dtype}" + ("" if bias is None else f", bias {bias.dtype}")
        raise TypeError(f"{fn}: input ({input.dtype}) and {what} must have the same dtype")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    stride = _positive(_ntuple(stride, spatial, "stride", fn), "stride", fn)
    dilation = _positive(_ntuple(dilation, spatial, "dilation", fn), "dilation", fn)
    kernel = tuple(weight.shape[2:])
    batched = input.ndim == spatial + 2
    channels = input.shape[1 if batched else 0]
    wshape = tuple(weight.shape)
    if transposed:
        if wshape[0] != channels:
            raise ValueError(f"{fn}: expected input with {wshape[0]} channels (weight of shape {wshape}: "
                             f"(in_channels, out_channels/groups, *kernel)), got input of shape {tuple(input.shape)}")
        if channels % groups:
            raise ValueError(f"{fn}: in_channels ({channels}) must be divisible by groups ({groups})")
        out_channels = wshape[1] * groups
    else:
        if wshape[0] % groups:
            raise ValueError(f"{fn}: out_channels ({wshape[0]}, from weight of shape {wshape}) must be divisible "
                             f"by groups ({groups})")
        if channels != wshape[1] * groups:
            raise ValueError(f"{fn}: expected input with {wshape[1] * groups} channels (weight of shape {wshape}, "
                             f"groups={groups}), got input of shape {tuple(input.shape)}")
        out_channels = wshape[0]
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"{fn}: expected bias to be a Tensor or None, got {type(bias).__name__}")
        if tuple(bias.shape) != (out_channels,):
            raise ValueError(f"{fn}: expected bias of shape ({out_channels},), got {tuple(bias.shape)}")
    if isinstance(padding, str) and transposed:
        raise ValueError(f"{fn}: padding must be an int or a tuple, got {padding!r}")
    pads = _resolve_padding(padding, kernel, stride, dilation, spatial, fn)
    if spatial == 1:
        stride, dilation, kernel = (1, *stride), (1, *dilation), (1, *kernel)
    return groups, stride, dilation, kernel, pads, batched, out_channels


def _conv(input, weight, bias, stride, padding, dilation, groups, spatial, fn):
    groups, stride, dilation, kernel, pads, batched, out_channels = _conv_setup(
        input, weight, bias, stride, padding, dilation, groups, spatial, fn)
    x4 = _as_4d(tuple(input.shape), spatial)
    w4 = _as_4d(tuple(weight.shape), spatial) if spatial == 1 else tuple(weight.shape)
    in_hw = x4[2:]
    out_hw = tuple(_out_size(s, k, st, p0 + p1, d)
                   for s, k, st, (p0, p1), d in zip(in_hw, kernel, stride, pads, dilation))
    if min(out_hw) < 1:
        raise ValueError(f"{fn}: input of spatial size {in_hw[2 - spatial:]} (padding {_show_pads(pads, spatial)}) "
                         f"is smaller than the dilated kernel "
                         f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))[2 - spatial:]}")
    geometry = _Geometry(kernel, stride, pads, dilation, groups, in_hw, out_hw)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return _ConvFn.apply(*tensors, geometry=geometry, x4=x4, w4=w4, y4=(x4[0], out_channels, *out_hw),
                         out_shape=_final_shape(batched, x4[0], out_channels, out_hw, spatial))


def _show_pads(pads, spatial):
    pads = pads[2 - spatial:]
    shown = tuple(p0 if p0 == p1 else (p0, p1) for p0, p1 in pads)
    return shown[0] if spatial == 1 else shown


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    r"""1-d convolution (cross-correlation, as in every deep-learning library) over (N, C, L) input.

    .. math::
        \text{out}[n, o, l] = b[o] + \sum_{c, k} w[o, c, k]\,
            x_{\text{pad}}[n,\ g(o) \cdot C/G + c,\ l \cdot s + k \cdot d]

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
        weight: ``(C_out, C_in / groups, k)``.
        bias: optional ``(C_out,)``.
        stride: step between output positions.
        padding: zeros added to both ends: an int, a 1-tuple, ``'valid'`` (none) or ``'same'``
            (output length = input length; stride 1 only; the extra zero goes on the right).
        dilation: spacing between kernel taps.
        groups: input and output channels are split into this many independent groups.

    Returns:
        ``(N, C_out, L_out)`` with ``L_out = floor((L + 2p - d(k-1) - 1) / s) + 1``.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> x = ember.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    >>> F.conv1d(x, ember.tensor([[[1.0, -1.0]]])).tolist()
    [[[-1.0, -1.0, -1.0]]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    r"""2-d convolution (cross-correlation) over (N, C, H, W) input, im2col + one GEMM.

    .. math::
        \text{out}[n, o, i, j] = b[o] + \sum_{c, p, q} w[o, c, p, q]\,
            x_{\text{pad}}[n,\ g(o) \cdot C/G + c,\ i s_h + p d_h,\ j s_w + q d_w]

    where ``g(o)`` is the group of output channel ``o``.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in / groups, kH, kW)``.
        bias: optional ``(C_out,)``.
        stride: an int or ``(sH, sW)``.
        padding: an int, ``(pH, pW)``, ``'valid'`` (none) or ``'same'`` (output size = input
            size; stride 1 only; an odd total puts the extra zero at the bottom/right).
        dilation: an int or ``(dH, dW)``: spacing between kernel taps.
        groups: split channels into independent groups; ``groups == C_in`` is depthwise.

    Returns:
        ``(N, C_out, H_out, W_out)``, ``H_out = floor((H + 2pH - dH(kH-1) - 1) / sH) + 1``.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> x = ember.ones(1, 1, 3, 3)
    >>> F.conv2d(x, ember.ones(1, 1, 2, 2), padding=1)[0, 0].tolist()
    [[1.0, 2.0, 2.0, 1.0], [2.0, 4.0, 4.0, 2.0], [2.0, 4.0, 4.0, 2.0], [1.0, 2.0, 2.0, 1.0]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, spatial, fn):
    groups, stride, dilation, kernel, pads, batched, out_channels = _conv_setup(
        input, weight, bias, stride, padding, dilation, groups, spatial, fn, transposed=True)
    out_pad = _positive(_ntuple(output_padding, spatial, "output_padding", fn), "output_padding", fn, True)
    if spatial == 1:
        out_pad = (0, *out_pad)
    for op, s, d in zip(out_pad, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"{fn}: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding={out_pad[2 - spatial:]}, stride={stride[2 - spatial:]}, "
                             f"dilation={dilation[2 - spatial:]}")
    x4 = _as_4d(tuple(input.shape), spatial)
    w4 = _as_4d(tuple(weight.shape), spatial) if spatial == 1 else tuple(weight.shape)
    in_hw = x4[2:]
    out_hw = tuple((s - 1) * st - (p0 + p1) + d * (k - 1) + op + 1
                   for s, k, st, (p0, p1), d, op in zip(in_hw, kernel, stride, pads, dilation, out_pad))
    if min(out_hw) < 1:
        raise ValueError(f"{fn}: the output would have spatial size {out_hw[2 - spatial:]}, which is not "
                         f"positive (input of shape {tuple(input.shape)}, padding {_show_pads(pads, spatial)})")
    # The geometry is that of the convolution whose input gradient this is: its input is our
    # output (out_hw) and its output is our input (in_hw).
    geometry = _Geometry(kernel, stride, pads, dilation, groups, out_hw, in_hw)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return _ConvTransposeFn.apply(*tensors, geometry=geometry, x4=x4, w4=w4, y4=(x4[0], out_channels, *out_hw),
                                  out_shape=_final_shape(batched, x4[0], out_channels, out_hw, spatial))


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    r"""1-d transposed convolution (the gradient of :func:`conv1d` w.r.t. its input).

    .. math::
        \text{out}[n, o, l \cdot s + k \cdot d - p] \mathrel{+}= \sum_c x[n, c, l]\, w[c, o, k]

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
        weight: ``(C_in, C_out / groups, k)``.
        bias: optional ``(C_out,)``.
        stride, padding, dilation, groups: as for the :func:`conv1d` this is the adjoint of.
        output_padding: extra size added to one side of the output (smaller than stride or
            dilation), to pick among the input sizes a strided conv1d maps to the same length.

    Returns:
        ``(N, C_out, L_out)``, ``L_out = (L - 1) s - 2p + d(k - 1) + output_padding + 1``.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.conv_transpose1d(ember.tensor([[[1.0, 2.0]]]), ember.tensor([[[1.0, 1.0]]]), stride=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    r"""2-d transposed convolution ("deconvolution"): the gradient of :func:`conv2d` w.r.t. its input.

    Each input pixel scatters ``x[n, c, i, j] * w[c, o, :, :]`` into the output at
    ``(i s_h - p_h, j s_w - p_w)``, taps spaced by the dilation:

    .. math::
        \text{out}[n, o, i s_h + p d_h - p_h, j s_w + q d_w - p_w] \mathrel{+}=
            \sum_c x[n, c, i, j]\, w[c, o, p, q]

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_in, C_out / groups, kH, kW)``.
        bias: optional ``(C_out,)``.
        stride, padding, dilation, groups: those of the :func:`conv2d` this is the adjoint of.
        output_padding: extra rows/columns added at the bottom/right of the output (each smaller
            than the stride or the dilation), to choose the output size.

    Returns:
        ``(N, C_out, H_out, W_out)``, ``H_out = (H - 1) sH - 2pH + dH(kH - 1) + output_paddingH + 1``.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> x = ember.tensor([[[[1.0, 2.0]]]])
    >>> F.conv_transpose2d(x, ember.ones(1, 1, 1, 2), stride=2)[0, 0].tolist()
    [[1.0, 1.0, 2.0, 2.0]]
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")
