"""Model architectures, all compatible with Opacus (layer L3).

Opacus computes per-sample gradients, which rules out BatchNorm (it mixes
examples in a batch) and in-place activations (they break its hooks), so every
model here uses GroupNorm where it normalises and ``ReLU(inplace=False)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from secfl.errors import ConfigurationError

__all__ = ["MODEL_KINDS", "build_model", "count_parameters"]

MODEL_KINDS = ("logreg", "linear", "mlp", "cnn", "cnn_mnist", "cnn_mnist_khj")


def build_model(
    kind: str,
    *,
    input_shape: Sequence[int],
    num_outputs: int,
    hidden: Sequence[int] = (64,),
    channels: Sequence[int] = (16, 32),
    groups: int = 4,
) -> nn.Module:
    """Build a model.

    Args:
        kind: ``logreg`` (multinomial logistic regression), ``linear`` (linear
            regression; ``num_outputs`` is 1), ``mlp``, ``cnn``, ``cnn_mnist``
            (the CNN of PyTorch's MNIST example) or ``cnn_mnist_khj`` (the
            variant in the code of Karimireddy, He and Jaggi, see below).
        input_shape: shape of one example, e.g. ``(1, 28, 28)`` or ``(features,)``.
        num_outputs: classes (classification) or 1 (regression).
        hidden: hidden layer widths of the MLP.
        channels: convolution widths of the CNN (two conv blocks).
        groups: GroupNorm groups in the CNN (must divide every width).

    Raises:
        ConfigurationError: for an unknown kind or impossible shapes.
    """
    features = 1
    for s in input_shape:
        features *= int(s)
    if num_outputs < 1:
        raise ConfigurationError("a model needs at least one output")
    if kind in ("logreg", "linear"):
        return nn.Sequential(nn.Flatten(), nn.Linear(features, num_outputs))
    if kind == "mlp":
        if not hidden or any(h < 1 for h in hidden):
            raise ConfigurationError("model.hidden must list positive widths")
        layers: list[nn.Module] = [nn.Flatten()]
        width = features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=False)]
            width = h
        layers.append(nn.Linear(width, num_outputs))
        return nn.Sequential(*layers)
    if kind == "cnn":
        if len(input_shape) != 3:
            raise ConfigurationError(
                f"the cnn model needs image inputs (C, H, W), got {tuple(input_shape)}"
            )
        c, h, w = (int(s) for s in input_shape)
        if len(channels) != 2 or any(ch % groups for ch in channels):
            raise ConfigurationError("model.channels must be two widths divisible by model.groups")
        if h < 4 or w < 4:
            raise ConfigurationError("the cnn model needs images of at least 4x4 pixels")
        c1, c2 = (int(ch) for ch in channels)
        return nn.Sequential(
            nn.Conv2d(c, c1, kernel_size=3, padding=1),
            nn.GroupNorm(groups, c1),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.GroupNorm(groups, c2),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * (h // 4) * (w // 4), num_outputs),
        )
    if kind in ("cnn_mnist", "cnn_mnist_khj"):
        # The CNN of PyTorch's MNIST example: two 3x3 convolutions (32, 64),
        # max-pooling, dropout, two dense layers (1.2M parameters for 28x28).
        # "cnn_mnist_khj" is the variant in the code behind Karimireddy, He, Jaggi
        # (ICLR 2022; codes/tasks/mnist.py of their repositories, e.g.
        # epfml/byzantine-robust-decentralized-optimizer): no ReLU between the
        # second convolution and the pooling, and channel dropout (Dropout2d)
        # after the pooling. The difference matters under attack (see
        # ``python -m benchmarks paper_traces``).
        if len(input_shape) != 3:
            raise ConfigurationError(f"the {kind} model needs image inputs (C, H, W)")
        c, h, w = (int(s) for s in input_shape)
        if h < 6 or w < 6:
            raise ConfigurationError(f"the {kind} model needs images of at least 6x6 pixels")
        khj = kind == "cnn_mnist_khj"
        conv2_activation: list[nn.Module] = [] if khj else [nn.ReLU(inplace=False)]
        return nn.Sequential(
            nn.Conv2d(c, 32, kernel_size=3),
            nn.ReLU(inplace=False),
            nn.Conv2d(32, 64, kernel_size=3),
            *conv2_activation,
            nn.MaxPool2d(2),
            nn.Dropout2d(0.25) if khj else nn.Dropout(0.25),
            nn.Flatten(),
            nn.Linear(64 * ((h - 4) // 2) * ((w - 4) // 2), 128),
            nn.ReLU(inplace=False),
            nn.Dropout(0.5),
            nn.Linear(128, num_outputs),
        )
    raise ConfigurationError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
