"""Specs for matmul and friends, and einsum."""

import numpy as np

from ..opspec import OpSpec, register


def _xs(*shapes):
    return lambda r: tuple(r.standard_normal(s) for s in shapes)


def _mm(name, a, b, **kw):
    return OpSpec(name, lambda m, x, y: x @ y, np.matmul, _xs(a, b), tol_scale=10, **kw)


def _es(name, eq, *shapes):
    return OpSpec(name, lambda m, *xs: m.einsum(eq, *xs), lambda *xs: np.einsum(eq, *xs), _xs(*shapes), tol_scale=10)


register(
    _mm("matmul", (3, 4), (4, 5)),
    _mm("matmul_1d_1d", (4,), (4,)),
    _mm("matmul_1d_2d", (4,), (4, 3)),
    _mm("matmul_2d_1d", (3, 4), (4,)),
    _mm("matmul_batched_2d", (2, 3, 3, 4), (4, 5)),
    _mm("matmul_2d_batched", (3, 4), (2, 4, 5)),
    _mm("matmul_batched", (2, 3, 4), (2, 4, 5)),
    _mm("matmul_broadcast_batch", (2, 1, 3, 4), (3, 4, 2)),
    _mm("matmul_broadcast_batch_ones", (1, 3, 4), (2, 4, 2)),
    _mm("matmul_1d_batched", (4,), (2, 4, 3)),
    _mm("matmul_batched_1d", (2, 3, 4), (4,)),
    OpSpec("matmul_constant_weight", lambda m, x, w: m.matmul(x, w), np.matmul, _xs((2, 3, 4), (4, 5)),
           grad_inputs=(0,), tol_scale=10),
    OpSpec("mm", lambda m, x, y: m.mm(x, y), np.matmul, _xs((3, 4), (4, 2)), tol_scale=10),
    OpSpec("bmm", lambda m, x, y: m.bmm(x, y), np.matmul, _xs((2, 3, 4), (2, 4, 2)), tol_scale=10),
    OpSpec("outer", lambda m, x, y: m.outer(x, y), np.outer, _xs((3,), (4,))),
    OpSpec("dot", lambda m, x, y: m.dot(x, y), np.dot, _xs((5,), (5,)), tol_scale=10),
    _es("einsum_matmul", "ij,jk->ik", (3, 4), (4, 5)),
    _es("einsum_batched", "bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    _es("einsum_attention", "bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4)),
    _es("einsum_implicit", "ij,jk", (3, 4), (4, 2)),
    _es("einsum_outer", "i,j->ij", (3,), (4,)),
    _es("einsum_hadamard", "ij,ij->ij", (3, 4), (3, 4)),
    _es("einsum_transpose", "ij->ji", (3, 4)),
    _es("einsum_sum_rows", "ij->j", (3, 4)),
    _es("einsum_total", "ijk->", (2, 3, 4)),
    _es("einsum_diagonal", "ii->i", (4, 4)),
    _es("einsum_trace", "ii->", (4, 4)),
    _es("einsum_diag_batch", "bii->bi", (2, 3, 3)),
    _es("einsum_sum_inside", "ijk,jl->il", (2, 3, 4), (3, 5)),
    _es("einsum_ellipsis", "...ij,...jk->...ik", (2, 3, 4), (4, 2)),
    _es("einsum_ellipsis_broadcast", "...ij,...jk->...ik", (2, 1, 3, 4), (3, 4, 2)),
    _es("einsum_three", "ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),
    _es("einsum_bilinear", "bi,ij,bj->b", (3, 4), (4, 5), (3, 5)),
)
