"""Linear algebra: matmul (with mm, bmm, dot, outer) and einsum.

matmul follows NumPy/PyTorch: 1-D operands are promoted to a matrix and the added
dimension removed afterwards; leading (batch) dimensions broadcast, and backward sums the
gradient over the batch dimensions an operand was broadcast along. A stack of matrices
times one matrix is done as a single 2-D product, forward and backward.
"""

from __future__ import annotations

import string

from ..autograd.engine import unbroadcast
from ..autograd.function import Function
from ..host_threads import matmul as _matmul
from ..tensor import Tensor
from ._operands import operands

__all__ = ["matmul", "mm", "bmm", "dot", "vdot", "inner", "outer", "ger", "einsum"]


def _f_ordered(x) -> bool:
    flags = getattr(x, "flags", None)
    return flags is not None and flags.f_contiguous and not flags.c_contiguous


class MatMul(Function):
    """C = A B;  dA = dC B^T,  dB = A^T dC (summed over broadcast batch dimensions)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        if b.ndim == 2 and a.ndim > 2:  # (..., k) @ (k, n): one GEMM over the flattened batch
            k = a.shape[-1]
            return _matmul(a.reshape(-1, k), b).reshape(a.shape[:-1] + (b.shape[1],))
        return _matmul(a, b, xp=self.xp)

    def backward(self, grad):
        xp = self.xp
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        na, nb = a.ndim, b.ndim
        # NOTE: a gradient is computed in its operand's memory order (a weight used as ``W.T``
        # gets an F-ordered gradient, which the transpose's backward turns back into C order),
        # so optimizers update parameters with contiguous elementwise ops.
        if na == 2 and nb == 2:
            if need_a:
                ga = _matmul(b, grad.T).T if _f_ordered(a) else _matmul(grad, b.T)
            if need_b:
                gb = _matmul(grad.T, a).T if _f_ordered(b) else _matmul(a.T, grad)
        elif nb == 2 and na > 2:
            k, n = b.shape
            g2 = grad.reshape(-1, n)
            if need_a:
                ga = _matmul(g2, b.T).reshape(a.shape)
            if need_b:
                a2 = a.reshape(-1, k)
                gb = _matmul(g2.T, a2).T if _f_ordered(b) else _matmul(a2.T, g2)
        elif na == 1 and nb == 1:
            if need_a:
                ga = grad * b
            if need_b:
                gb = grad * a
        elif nb == 1:  # (..., m, k) @ (k,) -> (..., m)
            if need_a:
                ga = grad[..., None] * b
            if need_b:
                gb = _matmul(a.reshape(-1, a.shape[-1]).T, grad.reshape(-1))
        elif na == 1:  # (k,) @ (..., k, n) -> (..., n)
            if need_a:
                ga = _matmul(b, grad[..., None], xp=xp)[..., 0]
                if ga.ndim > 1:
                    ga = ga.reshape(-1, ga.shape[-1]).sum(axis=0)
            if need_b:
                gb = a[:, None] * grad[..., None, :]
        else:
            if need_a:
                ga = _matmul(grad, xp.swapaxes(b, -1, -2), xp=xp)
                if ga.shape != a.shape:
                    ga = unbroadcast(ga, a.shape)
            if need_b:
                gb = _matmul(xp.swapaxes(a, -1, -2), grad, xp=xp)
                if gb.shape != b.shape:
                    gb = unbroadcast(gb, b.shape)
        return ga, gb


class Outer(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.multiply.outer(a, b)

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (grad @ b if need_a else None), (a @ grad if need_b else None)


def _shape_error(op, a, b, why) -> RuntimeError:
    return RuntimeError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied ({why})")


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """The matrix product ``input @ other`` with NumPy's rules for 1-D and batched operands.

    ``out[..., i, j] = sum_k input[..., i, k] * other[..., k, j]``; batch dimensions broadcast.

    Args:
        input: a tensor with at least 1 dimension.
        other: a tensor with at least 1 dimension.

    >>> import ember
    >>> a = ember.ones(4, 2, 3)
    >>> (a @ ember.ones(3, 5)).shape
    (4, 2, 5)
    >>> (ember.tensor([1.0, 2.0]) @ ember.tensor([3.0, 4.0])).item()
    11.0
    """
    a, b = operands(input, other)
    sa, sb = a._data.shape, b._data.shape
    if not sa or not sb:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {tuple(sa)} and {tuple(sb)}")
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != k_b:
        raise _shape_error("matmul", a, b, f"{sa[-1]} != {k_b}")
    try:
        return MatMul.apply(a, b)
    except ValueError as exc:
        raise _shape_error("matmul", a, b, f"batch dimensions do not broadcast: {exc}") from None


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices (2-D tensors): ``out[i, j] = sum_k input[i, k] mat2[k, j]``.

    Args:
        input: an (n, k) tensor.
        mat2: a (k, m) tensor.

    >>> import ember
    >>> ember.mm(ember.ones(2, 3), ember.ones(3, 4)).shape
    (2, 4)
    """
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected two 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """A batch of matrix products: ``out[b] = input[b] @ mat2[b]`` for 3-D tensors of the same batch size.

    Args:
        input: a (b, n, k) tensor.
        mat2: a (b, k, m) tensor.

    >>> import ember
    >>> ember.bmm(ember.ones(5, 2, 3), ember.ones(5, 3, 4)).shape
    (5, 2, 4)
    """
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: expected two 3-D tensors with the same batch size, got shapes "
                           f"{tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """The inner product of two 1-D tensors of the same length: ``sum_i input[i] other[i]``.

    Args:
        input: a 1-D tensor.
        other: a 1-D tensor of the same length.

    >>> import ember
    >>> ember.dot(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0])).item()
    11.0
    """
    if input.ndim != 1 or other.ndim != 1 or input.shape != other.shape:
        raise RuntimeError(f"dot: expected two 1-D tensors of the same length, got shapes {tuple(input.shape)} "
                           f"and {tuple(other.shape)}")
    return matmul(input, other)


vdot = dot


def inner(input: Tensor, other: Tensor) -> Tensor:
    """The inner product over the last dimension: ``out[..., ...'] = sum_k input[..., k] other[...', k]``.

    Args:
        input: a tensor.
        other: a tensor with the same last dimension.

    >>> import ember
    >>> ember.inner(ember.ones(2, 3), ember.ones(4, 3)).shape
    (2, 4)
    """
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise _shape_error("inner", input, other, f"last dimensions {input.shape[-1]} != {other.shape[-1]}")
    letters = string.ascii_letters
    a = letters[:input.ndim - 1]
    b = letters[input.ndim - 1:input.ndim + other.ndim - 2]
    return einsum(f"{a}z,{b}z->{a}{b}", input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``.

    Args:
        input: a 1-D tensor.
        vec2: a 1-D tensor.

    >>> import ember
    >>> ember.outer(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 10.0, 100.0])).tolist()
    [[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]]
    """
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: expected two 1-D tensors, got shapes {tuple(input.shape)} and {tuple(vec2.shape)}")
    return Outer.apply(*operands(input, vec2))


ger = outer


# -- einsum -------------------------------------------------------------------------------------

def _parse_einsum(equation: str, shapes) -> tuple[list[str], str]:
    """Explicit subscripts (one letter per dimension, ellipses expanded) and the output subscript."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
        explicit = True
    else:
        lhs, out, explicit = eq, "", False
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operand(s) but {len(shapes)} "
                         "were given")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    ell_nd = 0
    for term, shape in zip(terms, shapes):
        if "..." in term:
            ell_nd = max(ell_nd, len(shape) - (len(term) - 3))
    if ell_nd > len(spare):
        raise ValueError(f"einsum: too many dimensions under '...' in {equation!r}")
    ell = "".join(spare[:ell_nd])
    subs = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        if "..." in term:
            n = len(shape) - (len(term) - 3)
            if n < 0:
                raise ValueError(f"einsum: operand {i} of shape {tuple(shape)} has fewer dimensions than "
                                 f"subscript {term!r} names")
            term = term.replace("...", ell[ell_nd - n:])
        if not all(c.isalpha() for c in term):
            raise ValueError(f"einsum: invalid subscript {term!r} in {equation!r}")
        if len(term) != len(shape):
            raise ValueError(f"einsum: subscript {term!r} names {len(term)} dimension(s), but operand {i} has "
                             f"shape {tuple(shape)}")
        subs.append(term)
    if explicit:
        out = out.replace("...", ell)
    else:
        counts: dict = {}
        for term in subs:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return subs, out


def _optimize(arrays) -> bool:
    # Path search (and BLAS dispatch) pays off for 3+ operands or large ones; tiny pairs are faster without.
    return len(arrays) > 2 or (len(arrays) == 2 and arrays[0].size * arrays[1].size > 1 << 16)


class Einsum(Function):
    def forward(self, *arrays, subs, out):
        self.subs, self.out = subs, out
        self.save_for_backward(*arrays)
        eq = ",".join(subs) + "->" + out
        return self.xp.asarray(self.xp.einsum(eq, *arrays, optimize=_optimize(arrays)))

    def backward(self, grad):
        xp = self.xp
        arrays = self.saved
        subs, out = self.subs, self.out
        sizes = {}
        for term, a in zip(subs, arrays):
            for c, n in zip(term, a.shape):
                if n != 1 or c not in sizes:
                    sizes[c] = n
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            term = subs[i]
            others = [j for j in range(len(arrays)) if j != i]
            available = set(out)
            for j in others:
                available.update(subs[j])
            unique = "".join(dict.fromkeys(term))
            target = "".join(c for c in unique if c in available)
            eq = ",".join([out] + [subs[j] for j in others]) + "->" + target
            operands_ = [grad] + [arrays[j] for j in others]
            g = xp.einsum(eq, *operands_, optimize=_optimize(operands_))
            if target != unique:  # labels summed only inside this operand: broadcast back over them
                shape = tuple(sizes[c] for c in unique)
                g = xp.broadcast_to(xp.expand_dims(g, tuple(k for k, c in enumerate(unique) if c not in available)),
                                    shape)
            if unique != term:  # repeated labels (a diagonal): write the gradient onto the diagonal
                full = xp.zeros(tuple(sizes[c] for c in term), g.dtype)
                idx = tuple(xp.arange(sizes[c]).reshape([-1 if k == unique.index(c) else 1 for k in range(len(unique))])
                            for c in term)
                full[idx] = g
                g = full
            a_shape = arrays[i].shape
            if g.shape != a_shape:
                g = unbroadcast(g, a_shape)
            grads.append(xp.ascontiguousarray(g))
        return tuple(grads)


def einsum(equation: str, *operands_) -> Tensor:
    """Einstein summation: multiply the operands and sum over the labels missing from the output.

    ``einsum("ij,jk->ik", a, b)`` is ``a @ b``; ``"..."`` stands for broadcast dimensions;
    without ``->`` the output holds the labels used once, in alphabetical order. Operands may
    also be passed as one list.

    Args:
        equation: the subscripts, e.g. ``"bij,bjk->bik"``.
        operands_: the tensors.

    >>> import ember
    >>> a, b = ember.ones(2, 3), ember.ones(3, 4)
    >>> ember.einsum("ij,jk->ik", a, b).shape
    (2, 4)
    >>> ember.einsum("ii->", ember.eye(3)).item()
    3.0
    """
    if len(operands_) == 1 and isinstance(operands_[0], (list, tuple)):
        operands_ = tuple(operands_[0])
    if not operands_:
        raise ValueError("einsum: expected at least one operand")
    tensors = list(operands_)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(t).__name__}, expected a Tensor")
    if any(t._data.dtype != tensors[0]._data.dtype for t in tensors):
        from .. import dtypes

        target = tensors[0].dtype
        for t in tensors[1:]:
            target = dtypes.promote_types(target, t.dtype)
        tensors = [t.to(target) for t in tensors]
    subs, out = _parse_einsum(equation, [t._data.shape for t in tensors])
    try:
        return Einsum.apply(*tensors, subs=tuple(subs), out=out)
    except ValueError as exc:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        raise RuntimeError(f"einsum: {equation!r} does not fit operands of shapes {shapes}: {exc}") from None
