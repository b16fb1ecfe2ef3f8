"""Every model is Opacus-compatible and has the right output shape."""

from __future__ import annotations

import pytest
import torch
from opacus.validators import ModuleValidator
from torch import nn

from secfl.errors import ConfigurationError
from secfl.models import MODEL_KINDS, build_model


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
def test_models_are_opacus_compatible(kind: str, shape: tuple[int, ...]) -> None:
    outputs = 1 if kind == "linear" else 10
    model = build_model(kind, input_shape=shape, num_outputs=outputs)
    assert ModuleValidator.validate(model, strict=False) == []
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert not any(getattr(m, "inplace", False) for m in model.modules())
    out = model(torch.zeros(4, *shape))
    assert out.shape == (4, outputs)


def test_bad_model_requests() -> None:
    with pytest.raises(ConfigurationError, match="unknown model"):
        build_model("resnet", input_shape=(3,), num_outputs=2)
    with pytest.raises(ConfigurationError, match="image inputs"):
        build_model("cnn", input_shape=(20,), num_outputs=2)
    with pytest.raises(ConfigurationError, match="divisible"):
        build_model("cnn", input_shape=(1, 8, 8), num_outputs=2, channels=(6, 8), groups=4)


def test_the_mnist_cnns_differ_only_where_the_authors_code_does() -> None:
    """cnn_mnist is PyTorch's MNIST example; cnn_mnist_khj drops the ReLU between the
    second convolution and the pooling and uses channel dropout there."""
    example = build_model("cnn_mnist", input_shape=(1, 28, 28), num_outputs=10)
    khj = build_model("cnn_mnist_khj", input_shape=(1, 28, 28), num_outputs=10)
    assert sum(p.numel() for p in example.parameters()) == 1_199_882
    assert [p.shape for p in example.parameters()] == [p.shape for p in khj.parameters()]
    kinds = [type(m).__name__ for m in khj]
    assert kinds[kinds.index("Conv2d", 1) + 1] == "MaxPool2d"  # conv2 straight into pooling
    assert [type(m).__name__ for m in example][3] == "ReLU"
    assert isinstance(khj[4], nn.Dropout2d)
    assert not isinstance(example[5], nn.Dropout2d)
    # Same weights, and a negative conv2 output passes through pooling un-rectified.
    with torch.no_grad():
        for mine, theirs in zip(khj.parameters(), example.parameters(), strict=True):
            mine.copy_(theirs)
    example.eval()
    khj.eval()
    x = torch.randn(3, 1, 28, 28)
    pre_example = example[:5](x)
    pre_khj = khj[:4](x)
    assert (pre_example >= 0).all()
    assert (pre_khj < 0).any()
    assert torch.equal(torch.relu(pre_khj), pre_example)  # ReLU commutes with max-pooling
    with pytest.raises(ConfigurationError, match="cnn_mnist_khj model needs image inputs"):
        build_model("cnn_mnist_khj", input_shape=(784,), num_outputs=10)
