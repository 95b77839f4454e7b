"""The 70x70 PatchGAN discriminator of pix2pix, judging (L, ab) pairs patch by patch."""

from __future__ import annotations

from torch import nn


def _block(c_in: int, c_out: int, stride: int, norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, stride=stride, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


class PatchDiscriminator(nn.Sequential):
    """C64-C128-C256-C512 (4x4 convs, strides 2-2-2-1), then a 1-channel 4x4 conv.

    No BatchNorm on the first layer. A 256x256 input gives 30x30 logits, each seeing a 70x70 patch.
    """

    def __init__(self, in_channels: int = 3, width: int = 64) -> None:
        super().__init__(
            *_block(in_channels, width, stride=2, norm=False),
            *_block(width, width * 2, stride=2, norm=True),
            *_block(width * 2, width * 4, stride=2, norm=True),
            *_block(width * 4, width * 8, stride=1, norm=True),
            nn.Conv2d(width * 8, 1, 4, stride=1, padding=1),
        )

