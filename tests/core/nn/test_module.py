"""The Module contract: registration, traversal, state_dict, to(), modes, hooks, repr; Parameter,
containers and init."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember.nn import init


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.norm = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(8, 2)
        self.scale = nn.Parameter(ember.ones(2))
        self.register_buffer("steps", ember.zeros(()))
        self.register_buffer("cache", ember.zeros(3), persistent=False)

    def forward(self, x):
        return self.fc2(self.drop(self.norm(self.fc1(x)).relu())) * self.scale


# -- Parameter --------------------------------------------------------------------------------


def test_parameter_shares_storage_and_requires_grad():
    t = ember.zeros(3)
    p = nn.Parameter(t)
    assert isinstance(p, ember.Tensor) and p.requires_grad and p.is_leaf
    with ember.no_grad():
        t.fill_(2.0)
    np.testing.assert_array_equal(p.detach().numpy(), [2.0, 2.0, 2.0])
    assert not nn.Parameter(ember.zeros(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    y = p * 2
    assert type(y) is ember.Tensor
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q._data is not p._data and q.requires_grad
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.requires_grad
    np.testing.assert_array_equal(r.detach().numpy(), p.detach().numpy())


def test_parameter_cannot_be_assigned_as_plain_tensor():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter"):
        m.weight = ember.zeros(2, 2)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Bad(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(ember.ones(1))

        Bad()


# -- registration and traversal ------------------------------------------------------------------


def test_named_members_and_children():
    m = MLP()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "norm.weight", "norm.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in m.named_buffers()] == ["steps", "cache", "norm.running_mean", "norm.running_var",
                                                  "norm.num_batches_tracked"]
    assert [n for n, _ in m.named_children()] == ["fc1", "norm", "drop", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "norm", "drop", "fc2"]
    assert len(list(m.modules())) == 5 and len(list(m.children())) == 4
    assert m.num_parameters() == 4 * 8 + 8 + 16 + 16 + 2 + 2
    assert m.get_submodule("fc1") is m.fc1 and m.get_parameter("fc2.bias") is m.fc2.bias
    assert "fc1" in dir(m) and "scale" in dir(m)
    del m.scale
    assert "scale" not in [n for n, _ in m.named_parameters()]


def test_shared_parameters_are_deduplicated():
    a = nn.Linear(3, 3)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    tied = nn.Module()
    tied.emb = nn.Embedding(5, 3)
    tied.head = nn.Linear(3, 5, bias=False)
    tied.head.weight = tied.emb.weight
    assert [n for n, _ in tied.named_parameters()] == ["emb.weight"]
    assert set(tied.state_dict()) == {"emb.weight", "head.weight"}
    assert tied.num_parameters() == 15


def test_forward_hooks_and_call():
    m = nn.Linear(2, 2)
    seen = []
    h1 = m.register_forward_pre_hook(lambda mod, args: seen.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    out = m(ember.ones(1, 2))
    assert seen == ["pre"] and not np.any(out.detach().numpy())
    h1.remove()
    h2.remove()
    assert np.any(m(ember.ones(1, 2)).detach().numpy())
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(ember.ones(1))


# -- modes, gradients, apply --------------------------------------------------------------------


def test_train_eval_affects_dropout_and_batchnorm():
    ember.manual_seed(0)
    m = MLP()
    x = ember.randn(16, 4)
    m.train()
    assert all(mod.training for mod in m.modules())
    a, b = m(x), m(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())  # dropout differs
    assert m.norm.num_batches_tracked.item() == 2
    m.eval()
    assert not any(mod.training for mod in m.modules())
    c, d = m(x), m(x)
    np.testing.assert_array_equal(c.detach().numpy(), d.detach().numpy())
    assert m.norm.num_batches_tracked.item() == 2


def test_zero_grad_requires_grad_and_apply():
    m = MLP()
    m(ember.randn(4, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(p.grad.numpy()) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert m.num_parameters(trainable_only=True) == 0
    m.requires_grad_()
    visited = []
    m.apply(lambda mod: visited.append(type(mod).__name__))
    assert visited == ["Linear", "BatchNorm1d", "Dropout", "Linear", "MLP"]
    m.apply(lambda mod: init.zeros_(mod.weight) if isinstance(mod, nn.Linear) else None)
    assert not np.any(m.fc1.weight.detach().numpy())


# -- to() ------------------------------------------------------------------------------------------


def test_to_dtype_keeps_parameter_identity():
    m = MLP()
    params = list(m.parameters())
    opt_view = {id(p) for p in params}
    m(ember.randn(4, 4)).sum().backward()
    m.to(ember.float64)
    assert [id(p) for p in m.parameters()] == [id(p) for p in params] and {id(p) for p in params} == opt_view
    assert all(p.dtype == ember.float64 for p in m.parameters())
    assert all(p.grad.dtype == ember.float64 for p in m.parameters())
    assert m.norm.running_mean.dtype == ember.float64
    assert m.norm.num_batches_tracked.dtype == ember.int64  # integer buffers keep their dtype
    out = m(ember.randn(4, 4, dtype=ember.float64))
    assert out.dtype == ember.float64
    m.float()
    assert m.fc1.weight.dtype == ember.float32
    m.to("cpu")
    assert m.fc1.weight.device == ember.device("cpu")
    with pytest.raises(TypeError, match="floating"):
        m.to(ember.int64)


def test_optimizer_sees_parameters_after_to():
    m = nn.Linear(3, 1)
    opt = ember.optim.SGD(m.parameters(), lr=0.1)
    m.double()
    x = ember.randn(5, 3, dtype=ember.float64)
    before = m.weight.detach().numpy().copy()
    m(x).sum().backward()
    opt.step()
    assert not np.allclose(before, m.weight.detach().numpy())


# -- state_dict -----------------------------------------------------------------------------------


def test_state_dict_round_trip():
    ember.manual_seed(0)
    a, b = MLP(), MLP()
    a(ember.randn(8, 4))  # move the running statistics
    sd = a.state_dict()
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "norm.weight", "norm.bias", "norm.running_mean",
                        "norm.running_var", "norm.num_batches_tracked", "fc2.weight", "fc2.bias"]
    assert "cache" not in sd  # non-persistent
    assert not sd["fc1.weight"].requires_grad
    assert sd["fc1.weight"]._data is a.fc1.weight._data  # shares storage, like torch
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=name)
    a.eval(), b.eval()
    x = ember.randn(3, 4)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_state_dict_compatible_with_torch():
    t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.BatchNorm1d(3))
    e = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.BatchNorm1d(3))
    assert list(e.state_dict()) == list(t.state_dict())
    e.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})  # NumPy arrays are accepted too
    np.testing.assert_array_equal(e[0].weight.detach().numpy(), t[0].weight.detach().numpy())


def test_load_state_dict_strict_errors_name_keys_and_shapes():
    m = MLP()
    sd = dict(m.state_dict())
    sd.pop("fc1.bias")
    sd["extra.weight"] = ember.zeros(1)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "Missing key(s) in state_dict: 'fc1.bias'" in msg
    assert "Unexpected key(s) in state_dict: 'extra.weight'" in msg
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc1.bias"] and result.unexpected_keys == ["extra.weight"]
    bad = dict(m.state_dict())
    bad["fc2.weight"] = ember.zeros(3, 8)
    with pytest.raises(RuntimeError, match=r"size mismatch for 'fc2.weight'.*\(3, 8\).*\(2, 8\)"):
        m.load_state_dict(bad, strict=False)


def test_failed_load_changes_nothing():
    m = MLP()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    new = {k: ember.full(tuple(v.shape), 7.0, dtype=v.dtype) for k, v in m.state_dict().items()}
    new["fc2.bias"] = ember.zeros(5)  # one bad shape, after many good entries
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict(new)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


def test_load_state_dict_casts_and_keeps_identity():
    m = nn.Linear(2, 2)
    w = m.weight
    m.load_state_dict({"weight": ember.ones(2, 2, dtype=ember.float64), "bias": ember.zeros(2)})
    assert m.weight is w and w.dtype == ember.float32
    np.testing.assert_array_equal(w.detach().numpy(), 1.0)
    m.load_state_dict({"weight": ember.full((2, 2), 3.0), "bias": ember.zeros(2)}, assign=True)
    assert m.weight is w and w.detach().numpy()[0, 0] == 3.0


# -- repr -------------------------------------------------------------------------------------------


def test_repr_is_nested_and_readable():
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.LayerNorm(8), nn.Dropout(0.1)))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): LayerNorm((8,), eps=1e-05, elementwise_affine=True)\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")")
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.BatchNorm2d(4)) == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"


# -- containers --------------------------------------------------------------------------------------


def test_sequential_indexing_len_append():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seq.append(nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    assert seq(ember.ones(4, 2)).shape == (4, 1)
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1"]
    seq.insert(1, nn.Tanh())
    assert isinstance(seq[1], nn.Tanh)
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert named.enc is named[0] and [n for n, _ in named.named_parameters()] == ["enc.weight", "enc.bias"]
    with pytest.raises(IndexError):
        seq[5]


def test_module_list_dict_parameter_list():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and len(list(ml.parameters())) == 8
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    md = nn.ModuleDict({"a": nn.Linear(2, 2)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    pl = nn.ParameterList([ember.ones(2), nn.Parameter(ember.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    holder = nn.Module()
    holder.blocks = ml
    holder.params = pl
    assert holder.num_parameters() == 3 * 6 + 3 + 5


# -- init ------------------------------------------------------------------------------------------


def test_init_functions_statistics_and_seeding():
    ember.manual_seed(0)
    w = init.kaiming_uniform_(ember.empty(400, 300), a=0, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 300)
    assert np.abs(w.numpy()).max() <= bound and abs(w.numpy().std() - bound / math.sqrt(3)) < 0.01 * bound
    w = init.kaiming_normal_(ember.empty(400, 300), mode="fan_out")
    assert abs(w.numpy().std() - math.sqrt(2 / 400)) < 0.002
    w = init.xavier_uniform_(ember.empty(200, 100), gain=2.0)
    assert np.abs(w.numpy()).max() <= 2 * math.sqrt(6 / 300)
    w = init.xavier_normal_(ember.empty(200, 100))
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.003
    w = init.trunc_normal_(ember.empty(10000), std=1.0, a=-1.0, b=0.5)
    assert w.numpy().min() >= -1.0 and w.numpy().max() <= 0.5
    q = init.orthogonal_(ember.empty(4, 6)).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)
    assert init.constant_(ember.empty(3), 0.5).tolist() == [0.5, 0.5, 0.5]
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")
    ember.manual_seed(5)
    a = nn.Linear(3, 3).weight.detach().numpy()
    ember.manual_seed(5)
    np.testing.assert_array_equal(a, nn.Linear(3, 3).weight.detach().numpy())


def test_init_on_parameter_is_not_recorded():
    p = nn.Parameter(ember.empty(3, 3))
    init.normal_(p)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None


def test_layers_are_registered_through_the_plugin_hook():
    registry = nn.layer_registry()
    for name in ("Linear", "LayerNorm", "RMSNorm", "Embedding", "MultiheadAttention", "SwiGLU", "Dropout",
                 "BatchNorm2d", "GroupNorm", "RotaryEmbedding", "CrossEntropyLoss", "Flatten", "GELU"):
        assert registry[name] is getattr(nn, name)


def test_deepcopy_and_pickle_copy_everything():
    m = MLP()
    m(ember.randn(4, 4))
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in clone.parameters())
        assert all(a._data is not b._data for a, b in zip(clone.parameters(), m.parameters()))
        for (name, a), (_, b) in zip(clone.state_dict().items(), m.state_dict().items()):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_buffer_marker_and_reassignment():
    m = nn.Module()
    m.stats = nn.Buffer(ember.zeros(2))
    m.tmp = nn.Buffer(ember.ones(1), persistent=False)
    assert [n for n, _ in m.named_buffers()] == ["stats", "tmp"] and list(m.state_dict()) == ["stats"]
    m.stats = ember.ones(2)  # a plain tensor assigned to a buffer name replaces the buffer
    assert m.state_dict()["stats"].tolist() == [1.0, 1.0]
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("stats", nn.Parameter(ember.ones(1)))
