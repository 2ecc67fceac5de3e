"""Specs for joining and splitting: cat, stack, split, chunk, unbind."""

import numpy as np

from ..opspec import OpSpec, register


def _xs(*shapes):
    return lambda r: tuple(r.standard_normal(s) for s in shapes)


register(
    OpSpec("cat", lambda m, a, b: m.cat([a, b]), lambda a, b: np.concatenate([a, b]), _xs((2, 3), (4, 3))),
    OpSpec("cat_dim1_three", lambda m, a, b, c: m.cat((a, b, c), dim=1),
           lambda a, b, c: np.concatenate([a, b, c], axis=1), _xs((2, 1, 3), (2, 2, 3), (2, 4, 3))),
    OpSpec("cat_neg_dim", lambda m, a, b: m.cat([a, b], -1), lambda a, b: np.concatenate([a, b], axis=-1),
           _xs((2, 3), (2, 2))),
    OpSpec("cat_one_constant", lambda m, a, b: m.cat([a, b]), lambda a, b: np.concatenate([a, b]),
           _xs((2, 3), (1, 3)), grad_inputs=(1,)),
    OpSpec("stack", lambda m, a, b: m.stack([a, b]), lambda a, b: np.stack([a, b]), _xs((2, 3), (2, 3))),
    OpSpec("stack_last", lambda m, a, b, c: m.stack([a, b, c], dim=-1), lambda a, b, c: np.stack([a, b, c], -1),
           _xs((2, 3), (2, 3), (2, 3))),
    OpSpec("split_size", lambda m, x: m.split(x, 2, dim=1)[1], lambda x: x[:, 2:4], _xs((3, 5))),
    OpSpec("split_last_piece", lambda m, x: x.split(2, 1)[2], lambda x: x[:, 4:], _xs((3, 5))),
    OpSpec("split_sections", lambda m, x: m.split(x, [1, 3], dim=1)[1], lambda x: x[:, 1:], _xs((3, 4))),
    OpSpec("split_recombined", lambda m, x: m.cat(m.split(x, [2, 1, 2])[::-1]),
           lambda x: np.concatenate([x[3:], x[2:3], x[:2]]), _xs((5, 2))),
    OpSpec("chunk", lambda m, x: m.chunk(x, 3, dim=0)[2], lambda x: x[4:], _xs((5, 2))),
    OpSpec("chunk_sum", lambda m, x: x.chunk(2, 1)[0] * 2 + x.chunk(2, 1)[1],
           lambda x: x[:, :2] * 2 + x[:, 2:], _xs((3, 4))),
    OpSpec("unbind", lambda m, x: m.unbind(x, 1)[2], lambda x: x[:, 2], _xs((3, 4))),
)
