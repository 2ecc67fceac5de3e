"""Specs for indexing: x[...], gather, scatter, scatter_add, index_select, masked_fill, take_along_dim."""

import numpy as np

from ..opspec import OpSpec, register


def _x(*shape):
    return lambda r: (r.standard_normal(shape),)


def _with_index(shape, index):
    return lambda r: (r.standard_normal(shape), np.asarray(index, dtype=np.int64))


def _gather_ref(x, dim, index):
    sub = tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))
    return np.take_along_axis(x[sub], index, axis=dim)


def _scatter_add_ref(x, dim, index, src):
    out = x.copy()
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] += src[pos]
    return out


def _scatter_ref(x, dim, index, src):
    out = x.copy()
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] = src[pos]
    return out


REPEATED = [2, 0, 2, 2, 1]

register(
    OpSpec("getitem_int", lambda m, x: x[1], lambda x: x[1], _x(3, 4)),
    OpSpec("getitem_scalar", lambda m, x: x[1, -2], lambda x: np.asarray(x[1, -2]), _x(3, 4)),
    OpSpec("getitem_slices", lambda m, x: x[1:, ::2], lambda x: x[1:, ::2], _x(3, 5)),
    OpSpec("getitem_none_ellipsis", lambda m, x: x[None, ..., 1], lambda x: x[None, ..., 1], _x(2, 3, 4)),
    OpSpec("getitem_negative_slice", lambda m, x: x[-2:, :-1, -1], lambda x: x[-2:, :-1, -1], _x(3, 4, 2)),
    OpSpec("getitem_int_array", lambda m, x, i: x[i], lambda x, i: x[i], _with_index((3, 4), REPEATED)),
    OpSpec("getitem_int_array_2d", lambda m, x, i: x[i], lambda x, i: x[i],
           _with_index((4, 2), [[0, 3], [3, 3], [1, 0]])),
    OpSpec("getitem_int_array_1d_input", lambda m, x, i: x[i], lambda x, i: x[i],
           _with_index((5,), [4, 4, 0, -1])),
    OpSpec("getitem_array_then_slice", lambda m, x, i: x[i, 1:3], lambda x, i: x[i, 1:3],
           _with_index((3, 4), REPEATED)),
    OpSpec("getitem_slice_then_array", lambda m, x, i: x[:, i], lambda x, i: x[:, i],
           _with_index((4, 3), REPEATED)),
    OpSpec("getitem_two_arrays", lambda m, x, i, j: x[i, j], lambda x, i, j: x[i, j],
           lambda r: (r.standard_normal((3, 4)), np.array([0, 2, 0, 0]), np.array([1, 3, 1, 1]))),
    OpSpec("getitem_separated_arrays", lambda m, x, i, j: x[i, :, j], lambda x, i, j: x[i, :, j],
           lambda r: (r.standard_normal((3, 2, 4)), np.array([0, 2, 0]), np.array([1, 3, 1]))),
    OpSpec("getitem_array_and_int", lambda m, x, i: x[1, i], lambda x, i: x[1, i],
           _with_index((3, 4), [3, 3, 0])),
    OpSpec("getitem_bool_mask", lambda m, x, k: x[k], lambda x, k: x[k],
           lambda r: (r.standard_normal((3, 4)), r.standard_normal((3, 4)) > 0)),
    OpSpec("getitem_bool_rows", lambda m, x, k: x[k], lambda x, k: x[k],
           lambda r: (r.standard_normal((4, 3)), np.array([True, False, True, True]))),
    OpSpec("getitem_slice_bool", lambda m, x, k: x[:, k], lambda x, k: x[:, k],
           lambda r: (r.standard_normal((2, 4, 3)), np.array([False, True, True, False]))),
    OpSpec("getitem_list", lambda m, x: x[[0, 2, 0]], lambda x: x[[0, 2, 0]], _x(3, 4)),
    OpSpec("gather", lambda m, x, i: m.gather(x, 1, i), lambda x, i: _gather_ref(x, 1, i),
           _with_index((3, 4), [[0, 0], [3, 1], [2, 2]])),
    OpSpec("gather_dim0_smaller", lambda m, x, i: x.gather(0, i), lambda x, i: _gather_ref(x, 0, i),
           _with_index((3, 4), [[2, 0, 2], [2, 2, 1]])),
    OpSpec("scatter_add", lambda m, x, i, s: x.scatter_add(1, i, s), lambda x, i, s: _scatter_add_ref(x, 1, i, s),
           lambda r: (r.standard_normal((3, 4)), np.array([[0, 0, 3], [1, 1, 1], [2, 0, 2]]),
                      r.standard_normal((3, 3)))),
    OpSpec("scatter_add_larger_src", lambda m, x, i, s: m.scatter_add(x, 0, i, s),
           lambda x, i, s: _scatter_add_ref(x, 0, i, s),
           lambda r: (r.standard_normal((3, 4)), np.array([[0, 2], [0, 0]]), r.standard_normal((3, 3))),
           torch=False),  # torch's own backward rejects a src larger than index
    OpSpec("scatter", lambda m, x, i, s: m.scatter(x, 1, i, s), lambda x, i, s: _scatter_ref(x, 1, i, s),
           lambda r: (r.standard_normal((3, 4)), np.array([[0, 3], [2, 1], [1, 0]]), r.standard_normal((3, 2)))),
    OpSpec("scatter_larger_src", lambda m, x, i, s: m.scatter(x, 0, i, s), lambda x, i, s: _scatter_ref(x, 0, i, s),
           lambda r: (r.standard_normal((3, 4)), np.array([[2, 0], [0, 1]]), r.standard_normal((3, 3))),
           torch=False),
    OpSpec("scatter_value", lambda m, x, i: m.scatter(x, 0, i, 2.5),
           lambda x, i: _scatter_ref(x, 0, i, np.full(i.shape, 2.5)),
           lambda r: (r.standard_normal((3, 4)), np.array([[2, 0, 1, 1]]))),
    OpSpec("index_select", lambda m, x, i: x.index_select(1, i), lambda x, i: x[:, i],
           _with_index((3, 4), [3, 0, 3, 3])),
    OpSpec("index_select_dim0", lambda m, x, i: m.index_select(x, 0, i), lambda x, i: x[i],
           _with_index((3, 2, 2), [1, 1, 0])),
    OpSpec("masked_fill", lambda m, x, k: x.masked_fill(k, -2.0), lambda x, k: np.where(k, -2.0, x),
           lambda r: (r.standard_normal((3, 4)), r.standard_normal((4,)) > 0)),
    OpSpec("masked_fill_tensor_value", lambda m, x, k, v: m.masked_fill(x, k, v), lambda x, k, v: np.where(k, v, x),
           lambda r: (r.standard_normal((3, 4)), r.standard_normal((3, 4)) > 0, np.asarray(r.standard_normal()))),
    OpSpec("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, dim=1),
           lambda x, i: np.take_along_axis(x, i, axis=1),
           _with_index((3, 4), [[3, 0, 0], [1, 1, 2], [0, 3, 3]])),
    OpSpec("take_along_dim_broadcast", lambda m, x, i: m.take_along_dim(x, i, dim=0),
           lambda x, i: np.take_along_axis(x, i, axis=0), _with_index((3, 4), [[2], [0], [2]])),
    OpSpec("take_along_dim_flat", lambda m, x, i: m.take_along_dim(x, i), lambda x, i: x.reshape(-1)[i],
           _with_index((3, 4), [11, 0, 5, 5])),
)
