"""ResNet (He et al., 2016) with torchvision's layout and ``state_dict`` names.

Each residual block adds its input (projected by ``downsample`` = 1x1 conv + BN when the
shape changes) to a stack of conv-BN layers:

    BasicBlock:  y = ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))) + S(x))                expansion 1
    Bottleneck:  y = ReLU(BN(conv1x1(ReLU(BN(conv3x3_s(ReLU(BN(conv1x1(x)))))))) + S(x))  expansion 4

(the stride sits on the 3x3 convolution, torchvision's "ResNet v1.5"). Stems: "imagenet"
(7x7/2 conv, BN, ReLU, 3x3/2 max-pool) or "cifar" (3x3/1 conv, BN, ReLU, no pooling) for
small images. Four stages of widths w, 2w, 4w, 8w (stride 2 from the second), global average
pooling, a linear head ``fc``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ember import nn
from ember.nn import init

from .vision import CheckpointMismatchError, load_into, read_checkpoint, strip_prefix

__all__ = ["ResNetConfig", "ResNet", "BasicBlock", "Bottleneck", "build_resnet", "load_pretrained_resnet",
           "PRESETS", "register", "CheckpointMismatchError"]


@dataclass
class ResNetConfig:
    """ResNet hyper-parameters.

    Args:
        block: "basic" (ResNet-18/34) or "bottleneck" (ResNet-50/101/152).
        layers: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        width: channels of the first stage (64 in torchvision).
        num_classes: outputs of ``fc``.
        in_channels: image channels.
        stem: "imagenet" (7x7/2 conv + max-pool) or "cifar" (3x3/1 conv).
        zero_init_residual: start each block's last BN at gamma = 0 (block = identity).
    """

    block: str = "basic"
    layers: tuple = (2, 2, 2, 2)
    width: int = 64
    num_classes: int = 1000
    in_channels: int = 3
    stem: str = "imagenet"
    zero_init_residual: bool = False


PRESETS = {
    "tiny": dict(layers=(1, 1, 1, 1), width=8, num_classes=10, in_channels=1, stem="cifar"),
    "resnet18": dict(block="basic", layers=(2, 2, 2, 2)),
    "resnet34": dict(block="basic", layers=(3, 4, 6, 3)),
    "resnet50": dict(block="bottleneck", layers=(3, 4, 6, 3)),
    "resnet101": dict(block="bottleneck", layers=(3, 4, 23, 3)),
    "cifar-resnet18": dict(block="basic", layers=(2, 2, 2, 2), num_classes=10, stem="cifar"),
}


def _conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def _conv1x1(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and a shortcut (expansion 1)."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1, downsample=None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(c_in, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, each with BN, and a shortcut."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1, downsample=None) -> None:
        super().__init__()
        self.conv1 = _conv1x1(c_in, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, width * 4)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(nn.Module):
    """ResNet classifier with torchvision's names (conv1, bn1, layer1.0.conv1, ..., downsample.0/1, fc).

    Args:
        config: a :class:`ResNetConfig`.

    >>> import ember
    >>> model = ResNet(ResNetConfig(**PRESETS["tiny"]))
    >>> model(ember.zeros(2, 1, 8, 8)).shape
    (2, 10)
    """

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        if config.block not in _BLOCKS:
            raise ValueError(f"ResNet: block must be one of {sorted(_BLOCKS)}, got {config.block!r}")
        if config.stem not in ("imagenet", "cifar"):
            raise ValueError(f"ResNet: stem must be 'imagenet' or 'cifar', got {config.stem!r}")
        if len(config.layers) != 4:
            raise ValueError(f"ResNet: layers must give 4 stage depths, got {config.layers!r}")
        self.config = config
        block = _BLOCKS[config.block]
        w = config.width
        if config.stem == "imagenet":
            self.conv1 = nn.Conv2d(config.in_channels, w, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = _conv3x3(config.in_channels, w)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU()
        self._c = w
        self.layer1 = self._stage(block, w, config.layers[0], 1)
        self.layer2 = self._stage(block, 2 * w, config.layers[1], 2)
        self.layer3 = self._stage(block, 4 * w, config.layers[2], 2)
        self.layer4 = self._stage(block, 8 * w, config.layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * w * block.expansion, config.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if config.zero_init_residual:
            for m in self.modules():
                last = getattr(m, "bn3", None) if isinstance(m, Bottleneck) else getattr(m, "bn2", None)
                if isinstance(m, (BasicBlock, Bottleneck)):
                    init.zeros_(last.weight)

    def _stage(self, block, width: int, depth: int, stride: int):
        downsample = None
        if stride != 1 or self._c != width * block.expansion:
            downsample = nn.Sequential(_conv1x1(self._c, width * block.expansion, stride),
                                       nn.BatchNorm2d(width * block.expansion))
        blocks = [block(self._c, width, stride, downsample)]
        self._c = width * block.expansion
        blocks += [block(self._c, width) for _ in range(1, depth)]
        return nn.Sequential(*blocks)

    def forward_features(self, x):
        """The pooled features (B, 8 w expansion) before ``fc``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)

    def forward(self, x):
        return self.fc(self.forward_features(x))


def build_resnet(config: ResNetConfig) -> ResNet:
    """The registry's builder: a fresh :class:`ResNet`."""
    return ResNet(config)


def _config_from_checkpoint(state: dict, overrides: dict) -> ResNetConfig:
    w = state["conv1.weight"]
    layers = tuple(len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    values = dict(block="bottleneck" if "layer1.0.conv3.weight" in state else "basic", layers=layers,
                  width=w.shape[0], in_channels=w.shape[1], stem="imagenet" if w.shape[2] == 7 else "cifar")
    if "fc.weight" in state:
        values["num_classes"] = state["fc.weight"].shape[0]
    values.update(overrides)
    return ResNetConfig(**values)


def load_pretrained_resnet(path, config: ResNetConfig | None = None, **overrides) -> ResNet:
    """A :class:`ResNet` with the weights of a torchvision-named checkpoint (safetensors).

    Any prefix before ``conv1.weight`` (``model.``, ``module.``, ...) is removed. Without
    ``config`` the block type, depths, width, stem and classes are read from the shapes.

    Raises:
        CheckpointMismatchError: a tensor doesn't fit the config (names it and both shapes).
    """
    state = strip_prefix(read_checkpoint(path), "conv1.weight")
    if config is None:
        config = _config_from_checkpoint(state, overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    model = ResNet(config)
    load_into(model, state, source=str(path))
    return model.eval()


def register(register) -> None:
    register("resnet", build_resnet, config=ResNetConfig, presets=PRESETS, loader=load_pretrained_resnet)
