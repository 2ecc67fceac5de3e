"""Attention maps of a vision transformer as a PNG (needs matplotlib: ``pip install 'ember-models[viz]'``).

For each layer, the [CLS] token's attention to the image patches, averaged over heads
(or, with ``rollout=True``, attention rollout (Abnar & Zuidema, 2020): the product over
layers of 0.5 A + 0.5 I, rows renormalised), reshaped to the patch grid and drawn beside the image.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cls_attention_grids", "save_attention_maps"]


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def cls_attention_grids(maps, rollout: bool = False) -> np.ndarray:
    """(L, B, g, g) grids of [CLS]-to-patch attention from a list of L maps (B, H, N+1, N+1).

    >>> import numpy as np
    >>> a = np.full((1, 2, 5, 5), 0.2, np.float32)
    >>> cls_attention_grids([a, a]).shape
    (2, 1, 2, 2)
    """
    arrays = [_np(m).astype(np.float64).mean(1) for m in maps]  # (B, N+1, N+1), head-averaged
    n = arrays[0].shape[-1] - 1
    g = int(round(n ** 0.5))
    if g * g != n:
        raise ValueError(f"cls_attention_grids: {n} patch tokens don't form a square grid")
    out = []
    joint = None
    for a in arrays:
        if rollout:
            a = 0.5 * a + 0.5 * np.eye(a.shape[-1])
            a = a / a.sum(-1, keepdims=True)
            joint = a if joint is None else a @ joint
            a = joint
        out.append(a[:, 0, 1:].reshape(-1, g, g))
    return np.stack(out).astype(np.float32)


def save_attention_maps(path, images, maps, rollout: bool = False, max_images: int = 4) -> str:
    """Save a PNG: one row per image, the image then one [CLS]-attention heat map per layer.

    Args:
        path: the PNG file to write.
        images: (B, C, H, W) array or tensor (shown in grey if C != 3).
        maps: the list of attention maps (B, H, N+1, N+1) from ``ViT.attention_maps`` or
            ``CLIP.image_attention_maps``.
        rollout: draw attention rollout instead of each layer's own map.
        max_images: rows at most.

    Returns:
        ``path`` as a string.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("save_attention_maps needs matplotlib: pip install matplotlib "
                          "(or pip install 'ember-models[viz]')") from exc
    images = _np(images)
    grids = cls_attention_grids(maps, rollout)
    rows, cols = min(len(images), max_images), 1 + grids.shape[0]
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for r in range(rows):
        img = images[r]
        img = (img - img.min()) / (np.ptp(img) + 1e-8)
        axes[r, 0].imshow(img.transpose(1, 2, 0) if img.shape[0] == 3 else img.mean(0), cmap="gray")
        for layer in range(grids.shape[0]):
            axes[r, layer + 1].imshow(grids[layer, r], cmap="viridis")
            if r == 0:
                axes[r, layer + 1].set_title("rollout %d" % layer if rollout else "layer %d" % layer, fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(str(path), dpi=80)
    plt.close(fig)
    return str(path)
