"""Saving and loading: safetensors files, nested objects, and training checkpoints. No pickle.

Three layers, each on the one before:

- ``save_file`` / ``load_file``: a flat ``dict[str, Tensor]`` in the safetensors format
  (through ``safetensors``' own serializer), so weights move to and from PyTorch
  (``safetensors.torch``) and the Hugging Face hub. bfloat16 round-trips as ``BF16``.
- ``save`` / ``load`` (also ``ember.save`` / ``ember.load``): a nested structure of dicts,
  lists, tuples, tensors, NumPy arrays, numbers, strings and ``None`` (optimizer and
  scheduler state dicts, RNG states). Tensors go into the safetensors body under keys made
  from their path (``optimizer.state.0.exp_avg``); everything else is JSON in the header's
  metadata (``ember.object``).
- ``save_checkpoint`` / ``load_checkpoint``: model, optimizer, scheduler, DataLoader
  position and every RNG state (ember's, NumPy's global, Python's ``random``), so a killed
  run resumes exactly where it stopped.

Every write is atomic: the bytes go to a temporary file in the destination's folder, are
flushed and fsynced, and ``os.replace`` puts the file in place (then the folder is fsynced),
so a crash at any moment leaves either the old file or the new one. Every load parses and
validates the whole file first; a truncated, empty, corrupt or foreign file raises
:class:`SerializationError` naming the path, and ``load_checkpoint`` checks keys, shapes and
dtypes against the model and optimizer before it changes anything.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import random as _pyrandom
import struct
import tempfile
from typing import Any, Mapping

import ml_dtypes
import numpy as np

from . import dtypes as _dtypes
from .tensor import Tensor

__all__ = ["save_file", "load_file", "save", "load", "save_checkpoint", "load_checkpoint", "SerializationError",
           "CheckpointError"]

FORMAT_KEY = "ember.format"
OBJECT_KEY = "ember.object"
FORMAT_VERSION = "1"
_MAX_HEADER = 100 * 1024 * 1024

# safetensors dtype names <-> NumPy dtypes. safetensors.numpy's own table lacks BF16, so
# loading goes through this one (saving already works: it names bfloat16 arrays BF16).
_ST_DTYPES = {
    "F64": np.dtype(np.float64), "F32": np.dtype(np.float32), "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16), "I64": np.dtype(np.int64), "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16), "I8": np.dtype(np.int8), "U64": np.dtype(np.uint64), "U32": np.dtype(np.uint32),
    "U16": np.dtype(np.uint16), "U8": np.dtype(np.uint8), "BOOL": np.dtype(np.bool_),
    "C64": np.dtype(np.complex64),
}
_NP_TO_ST = {v: k for k, v in _ST_DTYPES.items()}


class SerializationError(ValueError):
    """A file that can't be read as what was expected (truncated, corrupt, or another format)."""


class CheckpointError(SerializationError):
    """A checkpoint that doesn't fit the model, optimizer, scheduler or loader it is loaded into."""


# -- atomic writes -----------------------------------------------------------------------

def _replace(src: str, dst: str) -> None:
    """``os.replace``; a seam for tests that simulate a crash before the rename."""
    os.replace(src, dst)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows: directories can't be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new, never a mix."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644)
        except OSError:
            pass
        _replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


# -- safetensors files -------------------------------------------------------------------

def _host_array(value, where: str) -> np.ndarray:
    if isinstance(value, Tensor):
        array = value._device.backend.to_numpy(value._data)
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:
        raise TypeError(f"{where}: expected a Tensor or NumPy array, got {type(value).__name__}")
    if array.dtype not in _NP_TO_ST:
        raise TypeError(f"{where}: dtype {array.dtype} can't be stored in a safetensors file "
                        f"(supported: {', '.join(str(d) for d in _ST_DTYPES.values())})")
    # NOTE: safetensors copies ``nbytes`` from the data pointer, so a strided view (a
    # transpose) would be written in memory order, scrambled: always hand it C order.
    return array if array.flags.c_contiguous else np.array(array, order="C")  # (ascontiguousarray makes 0-d 1-d)


def _check_metadata(metadata) -> dict | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in metadata.items()):
        raise TypeError("metadata must be a dict of str to str (the safetensors format stores text only)")
    return dict(metadata)


def _serialize(arrays: dict[str, np.ndarray], metadata: dict | None) -> bytes:
    import safetensors.numpy

    return safetensors.numpy.save(arrays, metadata=metadata)


def save_file(tensors: Mapping[str, Tensor], path, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` to ``path`` in the safetensors format, atomically.

    Args:
        tensors: names to tensors (NumPy arrays are accepted too).
        path: the file to write.
        metadata: optional text-only ``{str: str}`` stored in the header.

    The file loads in PyTorch with ``safetensors.torch.load_file``.

    >>> import ember, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_file({"w": ember.tensor([[1.0, 2.0]])}, path)
    >>> load_file(path)["w"].tolist()
    [[1.0, 2.0]]
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"save_file expects a dict of name -> Tensor, got {type(tensors).__name__}")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"save_file: tensor names must be strings, got {name!r}")
        arrays[name] = _host_array(value, f"save_file: {name!r}")
    _atomic_write(path, _serialize(arrays, _check_metadata(metadata)))


def _read(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and validate a whole safetensors file: (arrays, metadata). Raises SerializationError."""
    import safetensors

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    expected = "expected a safetensors file (8-byte header length, JSON header, tensor data)"
    if not data:
        raise SerializationError(f"{path} is empty; {expected}")
    if len(data) < 8:
        raise SerializationError(f"{path} is {len(data)} bytes, too short; {expected}")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > _MAX_HEADER or 8 + header_len > len(data):
        hint = " (it looks like a pickle: ember never reads pickles)" if data[:1] == b"\x80" else (
            " (it looks like a zip archive, e.g. a torch.save file)" if data[:2] == b"PK" else "")
        raise SerializationError(f"{path} is not a safetensors file, or it is truncated: its first 8 bytes give "
                                 f"a header of {header_len} bytes but the file has {len(data)}{hint}; {expected}")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SerializationError(f"{path} is not a safetensors file: its header is not JSON ({exc}); "
                                 f"{expected}") from None
    if not isinstance(header, dict):
        raise SerializationError(f"{path} is not a safetensors file: its header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SerializationError(f"{path}: the header's __metadata__ must map strings to strings")
    body = len(data) - 8 - header_len
    end = 0
    for name, info in header.items():
        try:
            dtype = _ST_DTYPES[info["dtype"]]
            shape = [int(n) for n in info["shape"]]
            begin, stop = (int(n) for n in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SerializationError(f"{path}: entry {name!r} of the header is malformed ({info!r:.200}); "
                                     f"{expected}") from None
        if any(n < 0 for n in shape) or stop - begin != math.prod(shape) * dtype.itemsize or begin < 0:
            raise SerializationError(f"{path}: entry {name!r} has shape {shape} of {info['dtype']} but data "
                                     f"offsets [{begin}, {stop}]")
        end = max(end, stop)
    if end > body:
        raise SerializationError(f"{path} is truncated: its header describes {end} bytes of tensor data, "
                                 f"the file holds {body}")
    if end < body:
        raise SerializationError(f"{path} is corrupt: {body - end} bytes after the tensor data that no tensor "
                                 "covers")
    try:
        entries = safetensors.deserialize(data)
    except Exception as exc:  # SafetensorError
        raise SerializationError(f"{path}: not a valid safetensors file ({exc})") from None
    arrays = {}
    for name, info in entries:
        dtype = _ST_DTYPES[info["dtype"]]
        arrays[name] = np.frombuffer(info["data"], dtype=dtype).reshape(info["shape"]).copy()
    return arrays, metadata


def _to_tensor(array: np.ndarray, device) -> Tensor:
    from .creation import from_numpy

    out = from_numpy(array)
    return out if device is None else out.to(device)


def load_file(path, device="cpu") -> dict[str, Tensor]:
    """Read a safetensors file (from ember, PyTorch, or the Hugging Face hub) into tensors.

    Args:
        path: the file.
        device: where the tensors go.

    Raises:
        SerializationError: the file is empty, truncated, or not a safetensors file.
        TypeError: it holds a dtype ember has no tensors for (uint16/32/64, complex).
    """
    arrays, _ = _read(path)
    out = {}
    for name, array in arrays.items():
        _dtypes.from_numpy_dtype(array.dtype)
        out[name] = _to_tensor(array, device)
    return out


# -- nested objects ----------------------------------------------------------------------

_TAGS = ("$dict", "$tuple", "$tensor", "$ndarray", "$float", "$dtype", "$device", "$bytes")


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, tuple[str, Any]] = {}

    def _key(self, path: list) -> str:
        base = ".".join(str(p) for p in path) or "_"
        key, n = base, 1
        while key in self.arrays:
            key, n = f"{base}#{n}", n + 1
        return key

    def encode(self, obj, path: list):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$float": repr(obj)}
        if isinstance(obj, Tensor):
            found = self.seen.get(id(obj))
            if found is None:
                key = self._key(path)
                self.arrays[key] = _host_array(obj, f"ember.save: {'.'.join(map(str, path))}")
                self.seen[id(obj)] = (key, obj)  # keep obj alive so its id stays unique
            else:
                key = found[0]
            return {"$tensor": key, "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, (np.ndarray, np.generic)):
            if isinstance(obj, (np.str_, np.bytes_)) or np.asarray(obj).dtype.kind in "USO":
                raise TypeError(f"ember.save: can't store the NumPy array of dtype {np.asarray(obj).dtype} at "
                                f"{'.'.join(map(str, path)) or 'the top level'}")
            found = self.seen.get(id(obj)) if isinstance(obj, np.ndarray) else None
            if found is None:
                key = self._key(path)
                self.arrays[key] = _host_array(obj, f"ember.save: {'.'.join(map(str, path))}")
                if isinstance(obj, np.ndarray):
                    self.seen[id(obj)] = (key, obj)
            else:
                key = found[0]
            return {"$ndarray": key, "scalar": isinstance(obj, np.generic)}
        if isinstance(obj, _dtypes.dtype):
            return {"$dtype": obj.name}
        from .device import Device

        if isinstance(obj, Device):
            return {"$device": str(obj)}
        if isinstance(obj, (bytes, bytearray)):
            return {"$bytes": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, Mapping):
            if all(isinstance(k, str) and not k.startswith("$") for k in obj):
                return {k: self.encode(v, path + [k]) for k, v in obj.items()}
            return {"$dict": [[self.encode(k, path + ["key"]), self.encode(v, path + [k])] for k, v in obj.items()]}
        if isinstance(obj, tuple):
            return {"$tuple": [self.encode(v, path + [i]) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, path + [i]) for i, v in enumerate(obj)]
        where = ".".join(map(str, path)) or "the top level"
        raise TypeError(f"ember.save: can't store a {type(obj).__name__} at {where}; it stores dicts, lists, "
                        "tuples, tensors, NumPy arrays, numbers, strings, bytes and None (no pickle)")


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], device, path: str) -> None:
        self.arrays, self.device, self.path = arrays, device, path
        self.tensors: dict[str, Tensor] = {}
        self.used: set[str] = set()

    def _array(self, key) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            raise SerializationError(f"{self.path}: the object refers to tensor {key!r}, which the file lacks")
        self.used.add(key)
        return self.arrays[key]

    def decode(self, obj):
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self.decode(v) for v in obj]
        if not isinstance(obj, dict):
            raise SerializationError(f"{self.path}: unexpected {type(obj).__name__} in the stored object")
        tags = [k for k in obj if k.startswith("$")]
        if not tags:
            return {k: self.decode(v) for k, v in obj.items()}
        tag = tags[0]
        value = obj[tag]
        try:
            if tag == "$dict":
                out = {}
                for k, v in value:
                    k = self.decode(k)
                    out[tuple(k) if isinstance(k, list) else k] = self.decode(v)
                return out
            if tag == "$tuple":
                return tuple(self.decode(v) for v in value)
            if tag == "$tensor":
                if value not in self.tensors:
                    array = self._array(value)
                    _dtypes.from_numpy_dtype(array.dtype)
                    tensor = _to_tensor(array, self.device)
                    if obj.get("requires_grad"):
                        tensor.requires_grad = True
                    self.tensors[value] = tensor
                return self.tensors[value]
            if tag == "$ndarray":
                array = self._array(value)
                return array[()] if obj.get("scalar") else array
            if tag == "$float":
                return float(value)
            if tag == "$dtype":
                return _dtypes.as_dtype(value)
            if tag == "$device":
                from .device import Device

                return Device(value)
            if tag == "$bytes":
                return base64.b64decode(value.encode("ascii"))
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(f"{self.path}: can't decode the stored {tag} entry {value!r:.100} ({exc})") \
                from None
        raise SerializationError(f"{self.path}: unknown tag {tag!r} in the stored object (written by a newer ember?)")


def save(obj, path, metadata: Mapping[str, str] | None = None) -> None:
    """Save a nested structure to ``path`` (a safetensors file with the structure as JSON), atomically.

    Args:
        obj: dicts (any of str/int/float/bool/None/tuple keys), lists, tuples, tensors,
            NumPy arrays and scalars, numbers (NaN and infinities too), strings, bytes,
            ``None``, ember dtypes and devices. A tensor that appears twice is stored once
            and comes back as one object. Anything else is a ``TypeError``: no pickle.
        path: the file to write.
        metadata: optional extra ``{str: str}`` for the header.

    >>> import ember, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "obj.safetensors")
    >>> ember.save({"step": 3, "w": ember.tensor([1.0, 2.0]), "ids": (1, 2)}, path)
    >>> out = ember.load(path)
    >>> out["step"], out["w"].tolist(), out["ids"]
    (3, [1.0, 2.0], (1, 2))
    """
    encoder = _Encoder()
    tree = encoder.encode(obj, [])
    meta = _check_metadata(metadata) or {}
    for key in (FORMAT_KEY, OBJECT_KEY):
        if key in meta:
            raise ValueError(f"save: metadata key {key!r} is reserved")
    meta[FORMAT_KEY] = FORMAT_VERSION
    meta[OBJECT_KEY] = json.dumps(tree, separators=(",", ":"), allow_nan=False)
    _atomic_write(path, _serialize(encoder.arrays, meta))


def _load_tree(path, device):
    arrays, metadata = _read(path)
    if OBJECT_KEY not in metadata:
        return None, arrays, metadata
    if metadata.get(FORMAT_KEY) != FORMAT_VERSION:
        raise SerializationError(f"{path}: ember format version {metadata.get(FORMAT_KEY)!r}; this ember reads "
                                 f"version {FORMAT_VERSION}")
    try:
        tree = json.loads(metadata[OBJECT_KEY])
    except ValueError as exc:
        raise SerializationError(f"{path}: the stored object is not valid JSON ({exc})") from None
    decoder = _Decoder(arrays, device, os.fspath(path))
    obj = decoder.decode(tree)
    return obj, arrays, metadata


def load(path, device=None):
    """Load what :func:`save` wrote. A plain safetensors file (no ember object in its
    header) loads as a ``dict[str, Tensor]``, like :func:`load_file`.

    Args:
        path: the file.
        device: where tensors go (default: the CPU).

    Raises:
        SerializationError: the file is empty, truncated, corrupt or not a safetensors file.
    """
    obj, arrays, metadata = _load_tree(path, device)
    if OBJECT_KEY not in metadata:
        out = {}
        for name, array in arrays.items():
            _dtypes.from_numpy_dtype(array.dtype)
            out[name] = _to_tensor(array, device)
        return out
    return obj


# -- checkpoints -------------------------------------------------------------------------

CHECKPOINT_KEY = "ember_checkpoint"


def _rng_states() -> dict:
    from . import random as _random

    return {"ember": _random.get_rng_state(), "numpy": np.random.get_state(), "python": _pyrandom.getstate()}


def save_checkpoint(path, *, model, optimizer=None, scheduler=None, step: int = 0, extra=None,
                    dataloader=None) -> None:
    """Save everything a training run needs to continue exactly, atomically, to ``path``.

    Stores ``model.state_dict()``, ``optimizer.state_dict()``, ``scheduler.state_dict()``,
    ``dataloader.state_dict()`` (its epoch, position and shuffling seed), ``step``, ``extra``
    (any structure :func:`save` takes) and the RNG states of ember's default generator,
    NumPy's global generator and Python's ``random``.

    Args:
        path: the file (a safetensors file, readable by any safetensors reader).
        model: an ``ember.nn.Module``.
        optimizer, scheduler, dataloader: optional, each with ``state_dict()``.
        step: the number of steps taken so far.
        extra: anything else to keep (the epoch, the best score, ...).
    """
    obj = {
        CHECKPOINT_KEY: 1,
        "step": int(step),
        "model": dict(model.state_dict()),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "dataloader": dataloader.state_dict() if dataloader is not None else None,
        "rng": _rng_states(),
        "extra": extra,
    }
    save(obj, path)


def _shape_dtype(value):
    if isinstance(value, Tensor):
        return tuple(value.shape), value.dtype
    if isinstance(value, np.ndarray):
        return tuple(value.shape), value.dtype
    return None


def _check_model(path, model, state) -> dict:
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the checkpoint's model state is a {type(state).__name__}, expected a dict")
    current = dict(model.state_dict())
    missing = [k for k in current if k not in state]
    unexpected = [k for k in state if k not in current]
    if missing or unexpected:
        raise CheckpointError(f"{path}: the checkpoint does not fit this model: missing keys {missing}, "
                              f"unexpected keys {unexpected}")
    out = {}
    for name, target in current.items():
        value = state[name]
        if not isinstance(value, Tensor):
            raise CheckpointError(f"{path}: model entry {name!r} is a {type(value).__name__}, expected a tensor")
        if tuple(value.shape) != tuple(target.shape):
            raise CheckpointError(f"{path}: model entry {name!r} has shape {tuple(value.shape)}, the model's has "
                                  f"{tuple(target.shape)}")
        if value.dtype != target.dtype:
            raise CheckpointError(f"{path}: model entry {name!r} has dtype {value.dtype}, the model's has "
                                  f"{target.dtype}")
        out[name] = value.to(target.device) if value.device != target.device else value
    return out


def _check_optimizer(path, optimizer, state) -> dict:
    if not isinstance(state, dict) or not isinstance(state.get("state"), dict) \
            or not isinstance(state.get("param_groups"), list):
        raise CheckpointError(f"{path}: the checkpoint has no optimizer state in PyTorch's layout "
                              "({'state': {...}, 'param_groups': [...]}), but an optimizer was given")
    current = optimizer.state_dict()
    groups, saved_groups = current["param_groups"], state["param_groups"]
    if len(groups) != len(saved_groups):
        raise CheckpointError(f"{path}: the checkpoint's optimizer has {len(saved_groups)} parameter groups, this "
                              f"one has {len(groups)}")
    params_by_id: dict = {}
    live_groups = getattr(optimizer, "param_groups", None)
    for g, (group, saved) in enumerate(zip(groups, saved_groups)):
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
            raise CheckpointError(f"{path}: optimizer parameter group {g} is malformed (no 'params' list)")
        if len(group["params"]) != len(saved["params"]):
            raise CheckpointError(f"{path}: optimizer parameter group {g} holds {len(saved['params'])} parameters "
                                  f"in the checkpoint, {len(group['params'])} here")
        live = live_groups[g]["params"] if live_groups is not None else [None] * len(saved["params"])
        for pid, param in zip(saved["params"], live):
            params_by_id[pid] = param
    current_state = current.get("state", {})
    current_ids = [pid for group in groups for pid in group["params"]]
    saved_ids = [pid for group in saved_groups for pid in group["params"]]
    current_of = dict(zip(saved_ids, current_ids))
    for pid, entry in state["state"].items():
        if pid not in params_by_id:
            raise CheckpointError(f"{path}: optimizer state for parameter id {pid!r}, which no parameter group lists")
        if not isinstance(entry, dict):
            raise CheckpointError(f"{path}: optimizer state for parameter {pid!r} is a {type(entry).__name__}, "
                                  "expected a dict")
        param = params_by_id[pid]
        now = current_state.get(current_of.get(pid), {})
        for key, value in entry.items():
            got = _shape_dtype(value)
            if got is None:
                continue
            ref = _shape_dtype(now.get(key)) if isinstance(now, dict) else None
            if ref is not None and got != ref:
                raise CheckpointError(f"{path}: optimizer state {key!r} of parameter {pid!r} has shape/dtype "
                                      f"{got[0]}/{got[1]}, this optimizer's has {ref[0]}/{ref[1]}")
            if ref is None and param is not None and len(got[0]) > 0 and got[0] != tuple(param.shape):
                raise CheckpointError(f"{path}: optimizer state {key!r} of parameter {pid!r} has shape {got[0]}, "
                                      f"the parameter has {tuple(param.shape)}")
    # Tensors follow their parameter's device.
    out = dict(state)
    moved = {}
    for pid, entry in state["state"].items():
        param = params_by_id[pid]
        moved[pid] = {k: (v.to(param.device) if isinstance(v, Tensor) and param is not None
                          and isinstance(param, Tensor) and v.device != param.device and v.ndim > 0 else v)
                      for k, v in entry.items()}
    out["state"] = moved
    return out


def _check_rng(path, rng) -> None:
    if not isinstance(rng, dict):
        raise CheckpointError(f"{path}: the checkpoint's RNG states are missing or malformed")
    try:
        if rng.get("ember") is not None:
            from .random import Generator

            Generator().set_state(copy.deepcopy(rng["ember"]))
        if rng.get("numpy") is not None:
            np.random.RandomState().set_state(rng["numpy"])
        if rng.get("python") is not None:
            _pyrandom.Random().setstate(rng["python"])
    except Exception as exc:
        raise CheckpointError(f"{path}: the checkpoint's RNG states don't load ({exc})") from None


def _snapshot(obj):
    """A deep copy in which tensors own copies of their data (to roll back after a failed load)."""
    if isinstance(obj, Tensor):
        out = Tensor._make(obj._data.copy(), obj._device, None)
        return out
    if isinstance(obj, dict):
        return type(obj)((k, _snapshot(v)) for k, v in obj.items()) if type(obj) is not dict else \
            {k: _snapshot(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_snapshot(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_snapshot(v) for v in obj)
    return copy.deepcopy(obj)


def load_checkpoint(path, *, model, optimizer=None, scheduler=None, dataloader=None) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint`, all or nothing.

    The whole file is read and checked first: its format, the model's keys, shapes and
    dtypes, the optimizer's groups and state shapes, the loader's position, the RNG
    states. Only then are the model, optimizer, scheduler, loader and RNGs set; if one of
    those still fails, the ones already set are put back as they were.

    Args:
        path: the checkpoint.
        model: the ``ember.nn.Module`` to load into (built the same way as when saved).
        optimizer, scheduler, dataloader: restored if given (the checkpoint must hold their state).

    Returns:
        ``{"step": int, "extra": what save_checkpoint was given}``.

    Raises:
        SerializationError: the file is empty, truncated, corrupt, or not an ember checkpoint.
        CheckpointError: it doesn't fit the objects given.
    """
    path = os.fspath(path)
    obj, _, metadata = _load_tree(path, None)
    if not isinstance(obj, dict) or obj.get(CHECKPOINT_KEY) != 1:
        what = "a plain safetensors file (weights only?)" if OBJECT_KEY not in metadata else \
            "a file written by ember.save, not by ember.save_checkpoint"
        raise SerializationError(f"{path} is not an ember checkpoint: it is {what}. Use ember.serialization."
                                 "load_file / ember.load for it, or write checkpoints with save_checkpoint.")
    model_state = _check_model(path, model, obj.get("model"))
    optimizer_state = _check_optimizer(path, optimizer, obj.get("optimizer")) if optimizer is not None else None
    if scheduler is not None and not isinstance(obj.get("scheduler"), dict):
        raise CheckpointError(f"{path}: the checkpoint holds no scheduler state, but a scheduler was given")
    if dataloader is not None:
        if obj.get("dataloader") is None:
            raise CheckpointError(f"{path}: the checkpoint holds no DataLoader state, but a dataloader was given")
        try:
            if hasattr(dataloader, "check_state_dict"):
                dataloader.check_state_dict(obj["dataloader"])
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
    _check_rng(path, obj.get("rng"))

    # Everything checks out: apply, keeping a way back in case a load_state_dict still fails.
    from . import random as _random

    undo = []
    try:
        before = _snapshot(dict(model.state_dict()))
        model.load_state_dict(model_state)
        undo.append(lambda: model.load_state_dict(before))
        if optimizer is not None:
            before_opt = _snapshot(optimizer.state_dict())
            optimizer.load_state_dict(optimizer_state)
            undo.append(lambda: optimizer.load_state_dict(before_opt))
        if scheduler is not None:
            before_sched = _snapshot(scheduler.state_dict())
            scheduler.load_state_dict(obj["scheduler"])
            undo.append(lambda: scheduler.load_state_dict(before_sched))
        if dataloader is not None:
            dataloader.load_state_dict(obj["dataloader"])
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception:
                pass
        raise
    rng = obj["rng"]
    if rng.get("ember") is not None:
        _random.set_rng_state(rng["ember"])
    if rng.get("numpy") is not None:
        np.random.set_state(rng["numpy"])
    if rng.get("python") is not None:
        _pyrandom.setstate(rng["python"])
    return {"step": obj.get("step", 0), "extra": obj.get("extra")}
