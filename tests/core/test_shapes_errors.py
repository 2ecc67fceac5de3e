"""Shape mistakes raise errors that name what was wrong: both shapes, or the dim and the ndim."""

from __future__ import annotations

import re

import pytest

import ember


def _names_both(info, a, b):
    message = str(info.value)
    assert str(a) in message and str(b) in message, message


# -- both shapes named ------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((5, 2, 3), (2, 4)),
                                 ((2, 2, 3), (3, 3, 4))])
def test_matmul_mismatch_names_both_shapes(a, b):
    with pytest.raises(RuntimeError) as info:
        ember.zeros(*a) @ ember.zeros(*b)
    _names_both(info, a, b)


def test_matmul_batch_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError) as info:
        ember.matmul(ember.zeros(2, 3, 4), ember.zeros(5, 4, 6))
    _names_both(info, (2, 3, 4), (5, 4, 6))


def test_matmul_zero_dim():
    with pytest.raises(RuntimeError) as info:
        ember.matmul(ember.zeros(()), ember.zeros(3))
    _names_both(info, (), (3,))


@pytest.mark.parametrize("fn,a,b", [(ember.mm, (2, 3), (3,)), (ember.bmm, (2, 3, 4), (3, 4, 5)),
                                    (ember.dot, (3,), (4,)), (ember.outer, (3, 1), (2,))])
def test_matrix_helpers_name_both_shapes(fn, a, b):
    with pytest.raises(RuntimeError) as info:
        fn(ember.zeros(*a), ember.zeros(*b))
    _names_both(info, a, b)


def test_cat_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError) as info:
        ember.cat([ember.zeros(2, 3), ember.zeros(2, 3), ember.zeros(4, 5)], dim=0)
    _names_both(info, (2, 3), (4, 5))
    assert "position 2" in str(info.value)


def test_cat_ndim_mismatch():
    with pytest.raises(RuntimeError) as info:
        ember.cat([ember.zeros(2, 3), ember.zeros(2, 3, 1)], dim=1)
    _names_both(info, (2, 3), (2, 3, 1))


def test_stack_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError) as info:
        ember.stack([ember.zeros(2, 3), ember.zeros(3, 2)])
    _names_both(info, (2, 3), (3, 2))


def test_reshape_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError) as info:
        ember.zeros(2, 3).reshape(4, 2)
    _names_both(info, (2, 3), (4, 2))


def test_reshape_infer_impossible():
    with pytest.raises(RuntimeError) as info:
        ember.zeros(2, 3).reshape(4, -1)
    _names_both(info, (2, 3), (4, -1))


def test_reshape_two_unknowns():
    with pytest.raises(RuntimeError, match="only one dimension"):
        ember.zeros(2, 3).reshape(-1, -1)


def test_view_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError) as info:
        ember.zeros(2, 3).view(7)
    _names_both(info, (2, 3), (7,))


def test_view_of_noncontiguous_suggests_reshape():
    x = ember.zeros(2, 3).transpose(0, 1)
    with pytest.raises(RuntimeError, match="reshape") as info:
        x.view(6)
    _names_both(info, (3, 2), (6,))
    assert x.reshape(6).shape == (6,)


def test_expand_mismatch_names_shapes():
    with pytest.raises(RuntimeError) as info:
        ember.zeros(2, 3).expand(2, 4)
    _names_both(info, (2, 3), (2, 4))


def test_einsum_mismatch_names_shapes():
    with pytest.raises((RuntimeError, ValueError)) as info:
        ember.einsum("ij,jk->ik", ember.zeros(2, 3), ember.zeros(4, 5))
    _names_both(info, (2, 3), (4, 5))


def test_split_sizes_must_sum():
    with pytest.raises(RuntimeError, match=r"\[2, 2\].*5"):
        ember.zeros(5, 2).split([2, 2])


def test_masked_fill_mask_shape():
    with pytest.raises(RuntimeError) as info:
        ember.zeros(3, 4).masked_fill(ember.ones(2, 4, dtype=ember.bool), 0.0)
    _names_both(info, (2, 4), (3, 4))


def test_permute_wrong_length():
    with pytest.raises(RuntimeError) as info:
        ember.zeros(2, 3, 4).permute(1, 0)
    _names_both(info, (1, 0), (2, 3, 4))


# -- bad dims name the dim and the ndim ----------------------------------------------------------------

BAD_DIMS = [
    ("sum", lambda x: x.sum(dim=3)),
    ("sum_tuple", lambda x: x.sum(dim=(0, 3))),
    ("mean", lambda x: x.mean(-4)),
    ("var", lambda x: x.var(dim=3)),
    ("max", lambda x: x.max(dim=3)),
    ("amax", lambda x: x.amax(dim=3)),
    ("argmax", lambda x: x.argmax(dim=3)),
    ("prod", lambda x: x.prod(3)),
    ("logsumexp", lambda x: x.logsumexp(3)),
    ("cumsum", lambda x: x.cumsum(3)),
    ("norm", lambda x: x.norm(dim=3)),
    ("transpose", lambda x: x.transpose(0, 3)),
    ("permute", lambda x: x.permute(0, 1, 3)),
    ("flatten", lambda x: x.flatten(3)),
    ("unsqueeze", lambda x: x.unsqueeze(-5)),
    ("squeeze", lambda x: x.squeeze(3)),
    ("flip", lambda x: x.flip(3)),
    ("roll", lambda x: x.roll(1, 3)),
    ("gather", lambda x: x.gather(3, ember.zeros(2, 3, 4, dtype=ember.int64))),
    ("index_select", lambda x: x.index_select(3, ember.tensor([0]))),
    ("cat", lambda x: ember.cat([x, x], dim=3)),
    ("split", lambda x: x.split(1, dim=3)),
    ("chunk", lambda x: x.chunk(2, dim=-4)),
]


@pytest.mark.parametrize("name,fn", BAD_DIMS, ids=[b[0] for b in BAD_DIMS])
def test_bad_dim_names_dim_and_ndim(name, fn):
    x = ember.zeros(2, 3, 4)
    with pytest.raises(IndexError) as info:
        fn(x)
    message = str(info.value)
    assert re.search(r"dimension -?[345]\b", message), message
    assert "3 dimension" in message, message


def test_stack_dim_range_counts_new_dim():
    x = ember.zeros(2, 3)
    assert ember.stack([x, x], dim=2).shape == (2, 3, 2)
    with pytest.raises(IndexError, match="dimension 3.*2 dimension"):
        ember.stack([x, x], dim=3)


def test_dim_must_be_an_integer():
    with pytest.raises(TypeError, match="integer"):
        ember.zeros(2, 3).sum(dim=1.5)


def test_repeated_dim_rejected():
    with pytest.raises(ValueError, match="more than once"):
        ember.zeros(2, 3).sum(dim=(1, -1))
