"""ember.data.datasets: scikit-learn's digits and Fashion-MNIST from idx files."""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.data import DataLoader, TensorDataset, datasets

DEBIAN = Path(datasets.DEBIAN_FASHION_MNIST)
needs_debian_files = pytest.mark.skipif(not (DEBIAN / "t10k-images-idx3-ubyte.gz").is_file(),
                                        reason="Debian's dataset-fashion-mnist is not installed")


# -- digits ------------------------------------------------------------------------------

def test_digits_shapes_ranges_labels():
    pytest.importorskip("sklearn")
    train, test = datasets.digits("train"), datasets.load("digits", split="test")
    assert isinstance(train, TensorDataset)
    (xtr, ytr), (xte, yte) = train.tensors, test.tensors
    assert xtr.shape == (1438, 1, 8, 8) and xte.shape == (359, 1, 8, 8)
    assert xtr.dtype == ember.float32 and ytr.dtype == ember.int64
    for x in (xtr, xte):
        a = np.asarray(x._data)
        assert a.min() == 0.0 and a.max() == 1.0
    assert sorted(set(np.asarray(ytr._data).tolist())) == list(range(10))
    # stratified: every class is ~20% test
    counts_tr = np.bincount(np.asarray(ytr._data), minlength=10)
    counts_te = np.bincount(np.asarray(yte._data), minlength=10)
    assert np.all(np.abs(counts_te / (counts_tr + counts_te) - 0.2) < 0.02)


def test_digits_split_is_disjoint_complete_and_deterministic():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    full = sklearn_datasets.load_digits()
    rows = {tuple(r) for r in (full.images / 16.0).reshape(len(full.images), -1).astype(np.float32).tolist()}
    train, test = datasets.digits("train"), datasets.digits("test")

    def keyed(ds):
        x, y = (np.asarray(t._data) for t in ds.tensors)
        return [(tuple(r), int(label)) for r, label in zip(x.reshape(len(x), -1).tolist(), y)]

    tr, te = keyed(train), keyed(test)
    # disjoint as index sets, and together exactly the 1797 samples
    ids_tr, ids_te = datasets._stratified_split(full.target, 0.2, datasets.DIGITS_SPLIT_SEED)
    assert not set(ids_tr.tolist()) & set(ids_te.tolist())
    assert len(ids_tr) + len(ids_te) == 1797
    assert {r for r, _ in tr} | {r for r, _ in te} == rows
    assert keyed(datasets.digits("train")) == tr  # the same split every time


def test_digits_labels_follow_images():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    full = sklearn_datasets.load_digits()
    ids_tr, _ = datasets._stratified_split(full.target, 0.2, datasets.DIGITS_SPLIT_SEED)
    x, y = (np.asarray(t._data) for t in datasets.digits("train").tensors)
    np.testing.assert_array_equal(y, full.target[ids_tr])
    np.testing.assert_allclose(x[:, 0], full.images[ids_tr] / 16.0, rtol=1e-6)


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        datasets.digits()


def test_load_rejects_unknown_names_and_splits():
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load("cifar")
    with pytest.raises(ValueError, match="split"):
        datasets.load("digits", split="val")


def test_digits_through_a_loader():
    pytest.importorskip("sklearn")
    loader = DataLoader(datasets.digits("test"), batch_size=100, shuffle=True)
    batches = list(loader)
    assert [b[0].shape[0] for b in batches] == [100, 100, 100, 59]


# -- Fashion-MNIST -----------------------------------------------------------------------

@needs_debian_files
@pytest.mark.parametrize("split,count", [("train", 60000), ("test", 10000)])
def test_fashion_mnist_reads_the_debian_files(split, count, monkeypatch):
    monkeypatch.delenv("EMBER_DATA", raising=False)
    ds = datasets.load("fashion-mnist", split=split)
    x, y = ds.tensors
    assert x.shape == (count, 1, 28, 28) and x.dtype == ember.float32
    assert y.shape == (count,) and y.dtype == ember.int64
    a, labels = np.asarray(x._data), np.asarray(y._data)
    assert a.min() == 0.0 and a.max() == 1.0
    assert np.array_equal(np.bincount(labels), np.full(10, count // 10))  # balanced: count/10 per class
    # pixels are k/255
    np.testing.assert_array_equal(np.round(a[:5] * 255) / 255, a[:5])


@needs_debian_files
def test_fashion_mnist_raw_files_and_ember_data(tmp_path, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(DEBIAN / f"{name}.gz") as src, open(folder / name, "wb") as dst:
            shutil.copyfileobj(src, dst)  # raw, not gzipped
    raw = datasets.fashion_mnist("test", root=folder)
    monkeypatch.setenv("EMBER_DATA", str(tmp_path))
    via_env = datasets.fashion_mnist("test")
    ref = datasets.fashion_mnist("test", root=DEBIAN)
    for a, b in zip(raw.tensors, ref.tensors):
        np.testing.assert_array_equal(np.asarray(a._data), np.asarray(b._data))
    np.testing.assert_array_equal(np.asarray(via_env.tensors[1]._data), np.asarray(ref.tensors[1]._data))


def test_fashion_mnist_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        datasets.load("fashion-mnist", split="test", root=tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "t10k-images-idx3-ubyte.gz") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert datasets.FASHION_MNIST_URL in message


def _write_idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)
    return data


def test_idx_reader_on_synthetic_files(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", images)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "a.gz", ndim=3), images)
    floats = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    _write_idx(tmp_path / "f", floats, code=0x0D)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "f"), floats)
    with pytest.raises(ValueError, match="3 dimensions.*expected 1"):
        datasets.read_idx(tmp_path / "a.gz", ndim=1)


def test_idx_reader_rejects_bad_files(tmp_path):
    images = np.zeros((5, 4, 4), np.uint8)
    data = _write_idx(tmp_path / "img", images)
    (tmp_path / "short").write_bytes(data[:-3])
    with pytest.raises(ValueError, match=r"short.*truncated.*needs 80 bytes.*found 77"):
        datasets.read_idx(tmp_path / "short", ndim=3)
    (tmp_path / "text").write_bytes(b"hello, this is not an idx file\n")
    with pytest.raises(ValueError, match="not an idx file"):
        datasets.read_idx(tmp_path / "text")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        datasets.read_idx(tmp_path / "tiny")


@needs_debian_files
def test_fashion_mnist_truncated_copy_is_a_clear_error(tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(DEBIAN / name, tmp_path / name)
    whole = (tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*(truncated|gzip)"):
        datasets.fashion_mnist("test", root=tmp_path)
    # a complete gzip stream of an idx file that lost its tail
    with gzip.open(DEBIAN / "t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(raw[:-1000])
    with pytest.raises(ValueError, match=r"idx file truncated.*7840000 bytes of data, found 7839000"):
        datasets.fashion_mnist("test", root=tmp_path)


def test_fashion_mnist_mismatched_counts(tmp_path):
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        datasets.fashion_mnist("test", root=tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    ds = datasets.fashion_mnist("test", root=tmp_path)
    assert len(ds) == 3 and ds.tensors[0].shape == (3, 1, 28, 28)
    assert os.path.exists(tmp_path / "t10k-images-idx3-ubyte.gz")
