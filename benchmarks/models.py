"""The benchmark models, built the same way with ember.nn and torch.nn.

Ember spells its layers as PyTorch does, so one builder serves both: pass the library's
``nn`` module (``ember.nn`` or ``torch.nn``).

- ``mlp(nn)``: 784-1024-1024-10 with ReLU (1.85 M parameters).
- ``resnet18(nn)``: the CIFAR layout of ResNet-18: a 3x3 stem, four stages of two
  BasicBlocks each (widths 32-64-128-256, stride 2 from the second stage on, 1x1 conv +
  BatchNorm shortcuts where the shape changes), global average pooling, a linear head.
"""

from __future__ import annotations


def mlp(nn, sizes=(784, 1024, 1024, 10)):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def resnet18(nn, widths=(32, 64, 128, 256), num_classes=10, in_channels=3):
    class BasicBlock(nn.Module):
        """conv3x3-BN-ReLU-conv3x3-BN, plus the (projected) input, then ReLU."""

        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.relu = nn.ReLU()
            if stride != 1 or c_in != c_out:
                self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(c_out))
            else:
                self.shortcut = None

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.shortcut is None else self.shortcut(x)))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                      nn.BatchNorm2d(widths[0]), nn.ReLU())
            blocks, c_in = [], widths[0]
            for stage, width in enumerate(widths):
                for i in range(2):
                    blocks.append(BasicBlock(c_in, width, 2 if stage > 0 and i == 0 else 1))
                    c_in = width
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Linear(widths[-1], num_classes)

        def forward(self, x):
            out = self.blocks(self.stem(x))
            return self.head(out.mean((2, 3)))

    return ResNet18()
