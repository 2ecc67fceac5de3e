"""Loading data: datasets, samplers and the DataLoader (``ember.data``, PyTorch's ``torch.utils.data``).

>>> import ember
>>> from ember.data import DataLoader, TensorDataset
>>> ds = TensorDataset(ember.tensor([[0.0], [1.0], [2.0], [3.0]]), ember.tensor([0, 1, 0, 1]))
>>> [y.tolist() for _, y in DataLoader(ds, batch_size=2)]
[[0, 1], [0, 1]]

``ember.data.datasets`` loads small standard datasets (scikit-learn's digits, Fashion-MNIST).
"""

from . import datasets  # noqa: F401
from .dataloader import DataLoader, default_collate  # noqa: F401
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split  # noqa: F401
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler  # noqa: F401

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
           "default_collate", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler",
           "datasets"]
