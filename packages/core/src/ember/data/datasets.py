"""Small standard datasets as TensorDatasets: scikit-learn's digits and Fashion-MNIST.

Every dataset comes back as ``TensorDataset(images, labels)``: images float32 in [0, 1]
of shape (N, 1, H, W), labels int64.

>>> from ember.data import datasets
>>> train = datasets.load("digits", split="train")  # doctest: +SKIP
>>> train.tensors[0].shape  # doctest: +SKIP
(1438, 1, 8, 8)
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .dataset import TensorDataset

__all__ = ["load", "digits", "fashion_mnist", "read_idx", "FASHION_MNIST_URL", "DEBIAN_FASHION_MNIST"]

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
_SPLITS = ("train", "test")


def _check_split(split: str) -> str:
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def _as_dataset(images: np.ndarray, labels: np.ndarray) -> TensorDataset:
    from ..creation import from_numpy

    return TensorDataset(from_numpy(np.ascontiguousarray(images, dtype=np.float32)),
                         from_numpy(np.ascontiguousarray(labels, dtype=np.int64)))


# -- digits ------------------------------------------------------------------------------

DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class, a seeded shuffle of its indices; the first round(fraction * count) go to test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def digits(split: str = "train") -> TensorDataset:
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), split 80/20.

    The split is stratified by class (a seeded NumPy shuffle per class, ``DIGITS_SPLIT_SEED``),
    so it is the same on every machine: 1438 train and 359 test images. Pixels (0..16) are
    scaled to [0, 1].

    Args:
        split: "train" or "test".

    Returns:
        ``TensorDataset(images (N, 1, 8, 8) float32, labels (N,) int64)``.

    Needs scikit-learn (``pip install scikit-learn``, or the ``ember-core[datasets]`` extra).
    """
    _check_split(split)
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("ember.data.datasets.digits needs scikit-learn, which is not installed: "
                          "pip install scikit-learn (or pip install 'ember-core[datasets]')") from exc
    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0)
    labels = np.asarray(bunch.target, dtype=np.int64)
    train_idx, test_idx = _stratified_split(labels, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    idx = train_idx if split == "train" else test_idx
    return _as_dataset(images[idx, None, :, :], labels[idx])


# -- idx files (MNIST, Fashion-MNIST) -----------------------------------------------------

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as f:
                return f.read()
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"{path}: not a complete gzip file ({exc}); the download may be truncated or "
                             "corrupt. Delete it and fetch it again.") from exc
    return path.read_bytes()


def read_idx(path, ndim: int | None = None) -> np.ndarray:
    """Read one idx file (the MNIST format), gzipped (``.gz``) or raw.

    The header is two zero bytes, a type code (0x08 = uint8, ...), the number of
    dimensions, then each dimension as a big-endian uint32; the data follow. The magic
    number, ``ndim`` (when given) and the data size are checked.

    Args:
        path: the file.
        ndim: the number of dimensions the caller expects (3 for images, 1 for labels).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: {len(data)} bytes is too short for an idx file (expected a 4-byte magic number)")
    zero, code, dims = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in _IDX_TYPES:
        raise ValueError(f"{path}: not an idx file (magic number {data[:4].hex()}; expected 0000 followed by a "
                         f"type code in {[hex(c) for c in _IDX_TYPES]} and the number of dimensions)")
    if ndim is not None and dims != ndim:
        raise ValueError(f"{path}: an idx file of {dims} dimensions (magic {data[:4].hex()}), expected {ndim}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise ValueError(f"{path}: truncated idx header ({len(data)} bytes, expected {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=dims, offset=4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise ValueError(f"{path}: idx file {what}: shape {shape} of {dtype.name} needs {expected} bytes of data, "
                         f"found {found}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


# -- Fashion-MNIST -----------------------------------------------------------------------

_FASHION_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                  "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _fashion_roots(root) -> list[Path]:
    if root is not None:
        return [Path(root)]
    roots = []
    env = os.environ.get("EMBER_DATA")
    if env:
        roots.append(Path(env) / "fashion-mnist")
    roots.append(Path(DEBIAN_FASHION_MNIST))
    return roots


def _find(name: str, roots: list[Path]) -> Path:
    tried = []
    for root in roots:
        for candidate in (root / f"{name}.gz", root / name):
            tried.append(str(candidate))
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"Fashion-MNIST file {name} not found; tried {', '.join(tried)}. Get it with "
        f"`apt-get install dataset-fashion-mnist` (Debian/Ubuntu, installs to {DEBIAN_FASHION_MNIST}), or download "
        f"{FASHION_MNIST_URL}{name}.gz into a folder and pass it as root= (or put it in $EMBER_DATA/fashion-mnist).")


def fashion_mnist(split: str = "train", root=None) -> TensorDataset:
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing (60000 train, 10000 test).

    Files are looked up, as ``NAME.gz`` or raw ``NAME``, in ``root`` if given, else in
    ``$EMBER_DATA/fashion-mnist``, then ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist`` package). Pixels (0..255) are scaled to [0, 1].

    Args:
        split: "train" or "test".
        root: a folder holding the idx files.

    Returns:
        ``TensorDataset(images (N, 1, 28, 28) float32, labels (N,) int64)``.

    Raises:
        FileNotFoundError: a file is missing (the message lists the paths tried and how to
            get the files).
        ValueError: a file is not an idx file, or is truncated.
    """
    _check_split(split)
    roots = _fashion_roots(root)
    image_name, label_name = _FASHION_FILES[split]
    image_path = _find(image_name, roots)
    label_path = _find(label_name, [image_path.parent])
    images = read_idx(image_path, ndim=3)
    labels = read_idx(label_path, ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"Fashion-MNIST {split}: {image_path} has {images.shape[0]} images but {label_path} has "
                         f"{labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{label_path}: labels must lie in 0..9, found {labels.min()}..{labels.max()}")
    scaled = images.astype(np.float32) / np.float32(255.0)
    return _as_dataset(scaled[:, None, :, :], labels.astype(np.int64))


_LOADERS = {"digits": digits, "fashion-mnist": fashion_mnist}


def load(name: str, split: str = "train", root=None) -> TensorDataset:
    """Load a dataset by name: "digits" or "fashion-mnist".

    Args:
        name: the dataset ("fashion_mnist" is accepted too).
        split: "train" or "test".
        root: where its files are (Fashion-MNIST only; digits come with scikit-learn).

    Returns:
        ``TensorDataset(images (N, 1, H, W) float32 in [0, 1], labels (N,) int64)``.
    """
    key = name.lower().replace("_", "-")
    if key not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(_LOADERS)}")
    _check_split(split)
    if key == "digits":
        if root is not None:
            raise ValueError("the digits dataset ships with scikit-learn and takes no root")
        return digits(split)
    return fashion_mnist(split, root=root)
