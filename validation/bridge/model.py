"""The CIFAR variant of ResNet-18 (He et al., 2016) and its symmetry groups.

Deviations from the ImageNet ResNet-18, as in the usual CIFAR recipe: a 3x3 stride-1 stem and no
max-pool (32x32 inputs), global average pooling before a 10-way linear layer. With ``width=64``
it has 11,173,962 parameters. ``width`` scales every stage (smoke runs use ``width=8``).

Every convolution is followed directly by a BatchNorm, which in training mode normalizes each
output channel by batch statistics: the loss is invariant under scaling a conv filter
(scale symmetry, seed 001), so ``<theta_A, g_A> = 0`` for each conv weight ``theta_A``. The
softmax makes the loss invariant under adding one vector to every row of the final layer's
weight (translation symmetry), so the gradient's column sums over classes vanish.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .linear import LinearRegression

__all__ = [
    "ResNet18",
    "MODELS",
    "scale_invariant_weights",
    "mass_inverse",
    "standard_state_dict",
]

#: Key prefixes of other CIFAR ResNet-18 layouts, mapped onto this one (applied in order):
#: ``module.`` (DataParallel / DDP), ``_orig_mod.`` (torch.compile), ``model.`` (Lightning),
#: ``linear.`` (the widely used kuangliu/pytorch-cifar layout), ``downsample.`` (a shortcut
#: named like torchvision's). The stem must be CIFAR's 3x3 conv without max-pool: torchvision's
#: ImageNet ResNet-18 (7x7 stem) has other shapes and is refused by ``load_state_dict``.
KEY_PREFIXES = (
    ("module.", ""),
    ("_orig_mod.", ""),
    ("model.", ""),
    ("linear.", "fc."),
)


def standard_state_dict(state_dict: dict) -> dict:
    """Rename the keys of another CIFAR ResNet-18 layout (:data:`KEY_PREFIXES`) to this one's.

    ``.downsample.`` inside a block becomes ``.shortcut.``; other keys are kept, so
    ``load_state_dict`` names whatever still does not match.
    """
    out = {}
    for key, value in state_dict.items():
        for old, new in KEY_PREFIXES:
            if key.startswith(old):
                key = new + key[len(old) :]
        out[key.replace(".downsample.", ".shortcut.")] = value
    return out


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18: stem conv3x3-BN-ReLU, four stages of two BasicBlocks, pool, linear.

    Parameters
    ----------
    width : int
        Channels of the first stage (64 for the standard network); stages use 1, 2, 4, 8 times it.
    num_classes : int
    """

    def __init__(self, width: int = 64, num_classes: int = 10):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1; got {width}")
        self.width = width
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        stages, c_in = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            c_out = width * 2**i
            stages.append(
                nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1))
            )
            c_in = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1)
        return self.fc(out)

    @staticmethod
    def criterion(out, y, reduction: str = "mean"):
        """The training loss: cross-entropy of the logits (every phase calls this)."""
        return nn.functional.cross_entropy(out, y, reduction=reduction)

    @staticmethod
    def n_correct(out, y):
        """Number of correctly classified samples in a batch."""
        return (out.argmax(1) == y).sum()


#: ``--model`` choices: class taking ``width`` (a model with ``criterion`` and ``n_correct``).
MODELS = {"resnet18": ResNet18, "linear": LinearRegression}


def scale_invariant_weights(model: nn.Module) -> list[str]:
    """Names of the conv weights whose output goes straight into a BatchNorm (scale symmetry).

    In :class:`ResNet18` that is every convolution; the check walks the module order, so a conv
    not followed by a BN would be left out.
    """
    names, mods = [], list(model.named_modules())
    for (name, m), (_, nxt) in zip(mods, mods[1:]):
        if isinstance(m, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
            names.append(f"{name}.weight")
    return names


#: Bounds of the layer-wise inverse mass of seed 000 eq. 5.
MASS_INV_CLIP = (1.0 / 8.0, 8.0)


def mass_inverse(model: nn.Module) -> dict[str, float]:
    """Layer-wise inverse mass of seed 000 eq. 5 for every trainable parameter.

    ``M_l^{-1} = clip(1 / sqrt(max(1, fan_in_l)), [1/8, 8])`` for conv and linear weights
    (fan-in = in_channels * kernel area, or in_features); 1 for biases and normalization parameters.
    """
    out = {}
    for mname, m in model.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            if pname == "weight" and isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = p[0].numel()
                lo, hi = MASS_INV_CLIP
                out[full] = min(max(1.0 / math.sqrt(max(1, fan_in)), lo), hi)
            else:
                out[full] = 1.0
    return out
