"""ember_cli.torch_twins: each zoo model's PyTorch twin, loaded with the ember model's weights,
computes the same outputs and the same training loss (what `ember bench --compare torch` and the
reference recipes rely on)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["gpt2", "llama", "vit", "resnet", "bert", "clip"])
def test_twin_matches_the_ember_model(name):
    import ember
    from ember_cli import config as cfgmod
    from ember_cli.bench_worker import synthetic_batch
    from ember_cli.tasks import make_task
    from ember_cli.torch_twins import init_like_ember
    from ember_models import get_spec

    cfg = cfgmod.resolve(name, "tiny", None, ["model.vocab_size=100"] if name in ("gpt2", "llama", "bert") else [])
    ember.manual_seed(0)
    model = get_spec(name).builder(cfg.model)
    twin = init_like_ember(name, model)
    assert sum(p.numel() for p in twin.parameters()) == sum(int(np.prod(p.shape)) for p in model.parameters())
    case = {"batch_size": 3, "seq_len": 7, "image_size": 12}
    arrays = synthetic_batch(cfg, case)
    if name == "bert":  # padding: the last two tokens of the first text
        arrays[1][0, -2:] = 0
    model.eval()
    twin.eval()
    task = make_task(cfg, ember.device("cpu"))
    with ember.no_grad(), torch.no_grad():
        ours = float(task.loss(model, tuple(ember.tensor(a) for a in arrays)).item())
        theirs = float(twin.loss(*(torch.from_numpy(a) for a in arrays)))
    assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-5)
    if name in ("gpt2", "llama", "vit", "resnet", "bert"):
        inputs = arrays[:1] if name != "bert" else arrays[:3]
        with ember.no_grad(), torch.no_grad():
            a = model(*(ember.tensor(x) for x in inputs)).numpy()
            b = twin(*(torch.from_numpy(x) for x in inputs)).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_twin_of_an_unknown_model_is_an_error():
    from ember_cli.torch_twins import twin

    with pytest.raises(ValueError, match="no PyTorch twin of 'nosuch'"):
        twin("nosuch", None)
