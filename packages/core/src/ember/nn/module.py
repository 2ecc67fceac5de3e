"""``Module``: the base class of every layer and model (PyTorch's ``nn.Module`` contract).

A module owns parameters, buffers and submodules, found by attribute assignment::

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(4, 8)        # a submodule
            self.scale = Parameter(ones(8))  # a parameter
            self.register_buffer("steps", zeros(()))

        def forward(self, x):
            return self.fc1(x).relu() * self.scale

``module(x)`` runs ``forward`` (and any forward hooks). Names are dotted paths
(``"fc1.weight"``), which is what ``state_dict()`` keys and ``named_parameters()`` use.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Callable, Iterator

from .. import dtypes as _dtypes
from ..autograd.grad_mode import no_grad
from ..device import Device
from ..tensor import Tensor
from .parameter import Buffer, Parameter

__all__ = ["Module"]


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict(strict=False)`` could not match."""

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class _HookHandle:
    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters and submodules as
    attributes, and define ``forward``.

    >>> import ember
    >>> from ember import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias']
    >>> model.num_parameters()
    9
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook: Callable) -> _HookHandle:
        """Call ``hook(module, args, output)`` after every forward; a non-None return replaces
        the output. Returns a handle whose ``remove()`` unregisters it."""
        handle = _HookHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook: Callable) -> _HookHandle:
        """Call ``hook(module, args)`` before every forward; a non-None return replaces the
        positional arguments."""
        handle = _HookHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    # -- registration ------------------------------------------------------------------

    def _check_ready(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")

    @staticmethod
    def _check_name(name, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{kind} name must be a non-empty string without '.', got {name!r}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, a declared but absent parameter) under ``name``."""
        self._check_ready("parameters")
        self._check_name(name, "parameter")
        if name not in self._parameters and (hasattr(type(self), name) or name in self.__dict__
                                             or name in self._buffers or name in self._modules):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign a {type(param).__name__} as parameter {name!r} "
                            "(wrap it in ember.nn.Parameter, or use register_buffer for state that is not learned)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as state that is saved (unless ``persistent=False``) and moved
        with the module, but not learned."""
        self._check_ready("buffers")
        self._check_name(name, "buffer")
        if name not in self._buffers and (hasattr(type(self), name) or name in self.__dict__
                                          or name in self._parameters or name in self._modules):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if isinstance(tensor, (Parameter, Buffer)):
            tensor = Tensor._make(tensor._data, tensor._device, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register a submodule (or None) under ``name``."""
        self._check_ready("submodules")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if name not in self._modules and (name in self._parameters or name in self._buffers):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._check_ready("parameters")
            self._forget(name)
            params[name] = value
        elif isinstance(value, Buffer):
            self._check_ready("buffers")
            self._forget(name)
            self.register_buffer(name, value, persistent=value.persistent)
        elif isinstance(value, Module):
            self._check_ready("submodules")
            self._forget(name)
            d["_modules"][name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as parameter {name!r} "
                                "(expected an ember.nn.Parameter or None)")
            params[name] = None
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module {name!r} "
                                "(expected a Module or None)")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} as buffer {name!r} "
                                "(expected a Tensor or None)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        d = self.__dict__
        d.pop(name, None)
        for registry in (d["_parameters"], d["_buffers"], d["_modules"]):
            registry.pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            registry = d.get(key)
            if registry is not None and name in registry:
                return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d[key]:
                del d[key][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)

    # -- traversal ---------------------------------------------------------------------

    def _named_members(self, get, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in get(module):
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield (module_prefix + "." + name if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, parameter)`` pairs; a parameter shared by several modules appears once."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every submodule, depth first, as ``(dotted_name, module)``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + "." + name if prefix else name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def get_submodule(self, target: str) -> "Module":
        """The submodule at dotted path ``target`` (``""`` is this module)."""
        module = self
        if not target:
            return module
        for part in target.split("."):
            child = module._modules.get(part) if isinstance(module, Module) else None
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r} (looking up {target!r})")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._buffers:
            raise AttributeError(f"{type(module).__name__} has no buffer {name!r} (looking up {target!r})")
        return module._buffers[name]

    def num_parameters(self, trainable_only: bool = False) -> int:
        """How many scalars the parameters hold (shared parameters counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- modes and gradients -----------------------------------------------------------

    def train(self, mode: bool = True) -> "Module":
        """Set training mode here and in every submodule (Dropout drops, BatchNorm updates
        its running statistics)."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, got {type(mode).__name__}")
        for module in self.modules():
            module.__dict__["training"] = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to None by default, which frees the memory)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor._make(p._device.backend.xp.zeros_like(p.grad._data), p._device, None)

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every submodule (children first) and then on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- device and dtype --------------------------------------------------------------

    def _apply_to_tensors(self, convert: Callable[[Tensor], Tensor]) -> "Module":
        """Replace the storage of every parameter, gradient and buffer with ``convert``'s
        result. Parameters keep their identity, so an optimizer built earlier still holds them."""
        done = set()
        with no_grad():
            for module in self.modules():
                for p in module._parameters.values():
                    if p is None or id(p) in done:
                        continue
                    done.add(id(p))
                    new = convert(p)
                    if new is not p:
                        p._data, p._device = new._data, new._device
                        p._bump_version()
                    if p.grad is not None:
                        p.grad = convert(p.grad)
                for name, b in module._buffers.items():
                    if b is None:
                        continue
                    if id(b) in done:
                        continue
                    done.add(id(b))
                    new = convert(b)
                    if new is not b:
                        b._data, b._device = new._data, new._device
                        b._bump_version()
        return self

    def to(self, *args, dtype=None, device=None) -> "Module":
        """Move and/or cast every parameter and buffer, in place: ``to(device)``,
        ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)``. A dtype applies to
        floating-point tensors only (integer buffers such as step counters keep theirs)."""
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, _dtypes.dtype) or arg in (float, int):
                dtype = arg
            elif isinstance(arg, str) and _is_dtype_name(arg):
                dtype = arg
            else:
                device = arg
        if dtype is not None:
            dtype = _dtypes.as_dtype(dtype)
            if not dtype.is_floating_point:
                raise TypeError(f"Module.to only accepts floating-point dtypes, got {dtype}")
        if device is not None:
            device = Device(device)

        def convert(t: Tensor) -> Tensor:
            out = t
            if device is not None and out._device is not device:
                out = out.to(device)
            if dtype is not None and out.is_floating_point() and out._data.dtype != dtype.numpy:
                out = out.to(dtype)
            return out

        return self._apply_to_tensors(convert)

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, index: int | None = None) -> "Module":
        return self.to(Device("cuda", index))

    def float(self) -> "Module":
        return self.to(_dtypes.float32)

    def double(self) -> "Module":
        return self.to(_dtypes.float64)

    def half(self) -> "Module":
        return self.to(_dtypes.float16)

    def bfloat16(self) -> "Module":
        return self.to(_dtypes.bfloat16)

    # -- state -------------------------------------------------------------------------

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by dotted name. The tensors share storage
        with the module (detached unless ``keep_vars``); copy them to keep a snapshot."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _state_slots(self, prefix: str = "", out: dict | None = None, seen: set | None = None) -> dict:
        """``name -> (module, attribute, kind)`` for everything ``state_dict`` would save."""
        if out is None:
            out = {}
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = (self, name, "parameter")
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                out[prefix + name] = (self, name, "buffer")
        for name, module in self._modules.items():
            if module is not None:
                module._state_slots(prefix + name + ".", out)
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Everything is checked before anything is copied, so a failed load changes nothing.

        Args:
            state_dict: a mapping from dotted names to tensors (or NumPy arrays).
            strict: raise if a key is missing or unexpected. Shape mismatches always raise.
            assign: make the loaded tensors the parameters' storage instead of copying
                into it (the parameters keep their identity either way).

        Returns:
            ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"expected a mapping of names to tensors, got {type(state_dict).__name__}")
        slots = self._state_slots()
        missing = [k for k in slots if k not in state_dict]
        unexpected = [k for k in state_dict if k not in slots]
        errors, updates = [], []
        for key, (module, attr, kind) in slots.items():
            if key not in state_dict:
                continue
            current = module._parameters[attr] if kind == "parameter" else module._buffers[attr]
            value = state_dict[key]
            if not isinstance(value, Tensor):
                try:
                    from ..creation import as_tensor

                    value = as_tensor(value)
                except Exception:
                    errors.append(f"for {key!r}: expected a tensor, got {type(value).__name__}")
                    continue
            if tuple(value.shape) != tuple(current.shape):
                errors.append(f"size mismatch for {key!r}: copying a param with shape {tuple(value.shape)} "
                              f"from checkpoint, the shape in current model is {tuple(current.shape)}")
                continue
            updates.append((current, value))
        if strict and (missing or unexpected):
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(repr(k) for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(repr(k) for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for current, value in updates:
                value = value.detach()
                if value._device is not current._device:
                    value = value.to(current._device)
                if value._data.dtype != current._data.dtype:
                    value = value.to(current.dtype)
                if assign:
                    current._data = value._data
                    current._bump_version()
                else:
                    current.copy_(value)
        return IncompatibleKeys(missing, unexpected)

    # -- printing ----------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (subclasses override it)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        if not self._modules:
            return f"{self._get_name()}({extra})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


def _is_dtype_name(name: str) -> bool:
    try:
        _dtypes.as_dtype(name)
        return True
    except TypeError:
        return False
