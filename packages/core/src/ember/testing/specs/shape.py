"""Specs for shape ops."""

import numpy as np

from ..opspec import OpSpec, register


def _x(*shape):
    return lambda r: (r.standard_normal(shape),)


def _pad(m):
    """``ember.pad`` / ``torch.nn.functional.pad``."""
    return m.pad if m.__name__ == "ember" else m.nn.functional.pad


register(
    OpSpec("reshape", lambda m, x: x.reshape(4, 3), lambda x: x.reshape(4, 3), _x(3, 4)),
    OpSpec("reshape_infer", lambda m, x: m.reshape(x, (2, -1)), lambda x: x.reshape(2, -1), _x(3, 4)),
    OpSpec("reshape_noncontiguous", lambda m, x: x.transpose(0, 1).reshape(-1),
           lambda x: x.T.reshape(-1), _x(3, 4)),
    OpSpec("view", lambda m, x: x.view(2, 2, 3), lambda x: x.reshape(2, 2, 3), _x(3, 4)),
    OpSpec("view_as", lambda m, x, y: x.view_as(y), lambda x, y: x.reshape(y.shape),
           lambda r: (r.standard_normal((3, 4)), r.standard_normal((6, 2))), grad_inputs=(0,)),
    OpSpec("reshape_as", lambda m, x, y: x.reshape_as(y), lambda x, y: x.reshape(y.shape),
           lambda r: (r.standard_normal((3, 4)), r.standard_normal((12,))), grad_inputs=(0,)),
    OpSpec("transpose", lambda m, x: x.transpose(0, 2), lambda x: x.transpose(2, 1, 0), _x(2, 3, 4)),
    OpSpec("transpose_neg", lambda m, x: m.transpose(x, -1, -2), lambda x: np.swapaxes(x, -1, -2), _x(2, 3, 4)),
    OpSpec("T", lambda m, x: x.T, lambda x: x.T, _x(3, 4)),
    OpSpec("mT", lambda m, x: x.mT, lambda x: np.swapaxes(x, -1, -2), _x(2, 3, 4)),
    OpSpec("permute", lambda m, x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), _x(2, 3, 4)),
    OpSpec("permute_tuple", lambda m, x: m.permute(x, (1, -1, 0)), lambda x: x.transpose(1, 2, 0), _x(2, 3, 4)),
    OpSpec("movedim", lambda m, x: m.movedim(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), _x(2, 3, 4)),
    OpSpec("flatten", lambda m, x: x.flatten(), lambda x: x.reshape(-1), _x(2, 3, 4)),
    OpSpec("flatten_range", lambda m, x: m.flatten(x, 1, 2), lambda x: x.reshape(2, 12, 5), _x(2, 3, 4, 5)),
    OpSpec("unflatten", lambda m, x: x.unflatten(1, (2, -1)), lambda x: x.reshape(3, 2, 3), _x(3, 6)),
    OpSpec("unsqueeze", lambda m, x: x.unsqueeze(1), lambda x: x[:, None], _x(3, 4)),
    OpSpec("unsqueeze_end", lambda m, x: m.unsqueeze(x, -1), lambda x: x[..., None], _x(3, 4)),
    OpSpec("squeeze", lambda m, x: x.squeeze(), lambda x: x.squeeze(), _x(3, 1, 4, 1)),
    OpSpec("squeeze_dim", lambda m, x: x.squeeze(1), lambda x: x.squeeze(1), _x(3, 1, 4, 1)),
    OpSpec("squeeze_dim_noop", lambda m, x: x.squeeze(0), lambda x: x, _x(3, 1, 4)),
    OpSpec("expand", lambda m, x: x.expand(2, 3, -1), lambda x: np.broadcast_to(x, (2, 3, 4)), _x(1, 4)),
    OpSpec("expand_as", lambda m, x, y: x.expand_as(y), lambda x, y: np.broadcast_to(x, y.shape),
           lambda r: (r.standard_normal((3, 1)), r.standard_normal((2, 3, 4))), grad_inputs=(0,)),
    OpSpec("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), lambda x: np.broadcast_to(x, (2, 3, 4)),
           _x(4)),
    OpSpec("flip", lambda m, x: x.flip(0), lambda x: x[::-1], _x(3, 4)),
    OpSpec("flip_dims", lambda m, x: m.flip(x, (0, 2)), lambda x: x[::-1, :, ::-1], _x(2, 3, 4)),
    OpSpec("roll", lambda m, x: x.roll(2, 1), lambda x: np.roll(x, 2, axis=1), _x(3, 4)),
    OpSpec("roll_dims", lambda m, x: m.roll(x, (1, -1), (0, 2)), lambda x: np.roll(x, (1, -1), axis=(0, 2)),
           _x(2, 3, 4)),
    OpSpec("roll_flat", lambda m, x: x.roll(5), lambda x: np.roll(x, 5), _x(3, 4)),
    OpSpec("tril", lambda m, x: x.tril(), np.tril, _x(4, 4)),
    OpSpec("tril_batched", lambda m, x: m.tril(x, -1), lambda x: np.tril(x, -1), _x(2, 3, 4)),
    OpSpec("triu", lambda m, x: x.triu(1), lambda x: np.triu(x, 1), _x(4, 5)),
    OpSpec("pad_constant", lambda m, x: _pad(m)(x, (1, 2)), lambda x: np.pad(x, ((0, 0), (1, 2))), _x(3, 4)),
    OpSpec("pad_constant_value", lambda m, x: _pad(m)(x, (1, 0, 0, 2), value=-1.5),
           lambda x: np.pad(x, ((0, 0), (0, 2), (1, 0)), constant_values=-1.5), _x(2, 3, 4)),
    OpSpec("pad_negative", lambda m, x: _pad(m)(x, (-1, 2, 1, -1)),
           lambda x: np.pad(x, ((1, 0), (0, 2)))[:-1, 1:], _x(3, 4)),
    OpSpec("pad_reflect", lambda m, x: _pad(m)(x, (2, 1), mode="reflect"),
           lambda x: np.pad(x, ((0, 0), (0, 0), (2, 1)), mode="reflect"), _x(2, 3, 4)),
    OpSpec("pad_reflect_2d", lambda m, x: _pad(m)(x, (1, 1, 2, 0), mode="reflect"),
           lambda x: np.pad(x, ((0, 0), (0, 0), (2, 0), (1, 1)), mode="reflect"), _x(1, 2, 3, 4)),
    OpSpec("pad_replicate", lambda m, x: _pad(m)(x, (1, 3), mode="replicate"),
           lambda x: np.pad(x, ((0, 0), (0, 0), (1, 3)), mode="edge"), _x(2, 3, 4)),
    OpSpec("pad_circular", lambda m, x: _pad(m)(x, (2, 1), mode="circular"),
           lambda x: np.pad(x, ((0, 0), (0, 0), (2, 1)), mode="wrap"), _x(2, 3, 4)),
    OpSpec("repeat", lambda m, x: x.repeat(2, 3), lambda x: np.tile(x, (2, 3)), _x(2, 3)),
    OpSpec("repeat_new_dims", lambda m, x: x.repeat(2, 1, 2), lambda x: np.tile(x, (2, 1, 2)), _x(3,)),
    OpSpec("narrow", lambda m, x: m.narrow(x, 1, 1, 2), lambda x: x[:, 1:3], _x(3, 4)),
)
