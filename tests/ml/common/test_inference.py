"""ml.common.inference: the CPU copies the entry points run are built once per model, rebuilt when
the weights change, never used off the CPU, and compute what the model computes."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ml.common.inference import (
    ATTRIBUTE,
    PackedConv,
    SpaceToDepthConv2d,
    channels_last,
    fold_batch_norm,
    forget,
    inference_copy,
    space_to_depth_conv,
    space_to_depth_weight,
    transposed_as_conv_weight,
    upsampled_conv_weight,
)


def conv_bn(transpose: bool) -> nn.Sequential:
    torch.manual_seed(0)
    conv = nn.ConvTranspose2d(4, 6, 4, 2, 1, bias=False) if transpose else nn.Conv2d(4, 6, 3, padding=1)
    model = nn.Sequential(conv, nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 3, 3), nn.BatchNorm2d(3))
    with torch.no_grad():  # statistics as training leaves them, not the identity they start as
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()
    return model.eval()


@pytest.mark.parametrize("transpose", [False, True])
def test_folding_batch_norm_keeps_the_function_and_the_original(transpose: bool) -> None:
    model = conv_bn(transpose)
    x = torch.randn(2, 4, 9, 7)
    folded = channels_last(fold_batch_norm(model))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 2  # a copy was folded
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-5, rtol=0)


def test_the_copy_is_built_once_and_again_when_the_weights_change() -> None:
    model = conv_bn(False)
    builds: list[nn.Module] = []

    def build(m: nn.Module) -> nn.Module:
        builds.append(fold_batch_norm(m))
        return builds[-1]

    cpu = torch.device("cpu")
    first = inference_copy(model, build, cpu)
    assert inference_copy(model, build, cpu) is first and len(builds) == 1
    assert ATTRIBUTE not in str(model.state_dict().keys()) and len(list(model.children())) == 5
    with torch.no_grad():  # what an optimizer step does: in place, same storage
        model[0].weight.add_(0.1)
    second = inference_copy(model, build, cpu)
    assert second is not first and len(builds) == 2
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(second(x), model(x), atol=1e-5, rtol=0)
    forget(model)
    assert inference_copy(model, build, cpu) is not second and len(builds) == 3


def test_off_the_cpu_the_model_itself_runs() -> None:
    model = conv_bn(False)

    def build(m: nn.Module) -> nn.Module:
        raise AssertionError("no copy off the CPU")

    assert inference_copy(model, build, torch.device("cuda")) is model


@pytest.mark.parametrize(("k", "s", "size"),
                         [(9, 2, (24, 20)), (3, 2, (7, 9)), (9, 4, (17, 12)), (5, 3, (10, 11))])
def test_a_convolution_on_blocks_of_pixels_is_the_same_convolution(k: int, s: int,
                                                                   size: tuple[int, int]) -> None:
    torch.manual_seed(k * s)
    weight, x = torch.randn(3, 4, k, k), torch.randn(2, 4, *size)
    padded = F.pad(x, (k // 2,) * 4, mode="reflect")
    got = space_to_depth_conv(padded, space_to_depth_weight(weight, s), s, k)
    want = F.conv2d(padded, weight)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-4, rtol=0)


def test_the_space_to_depth_module_keeps_the_bias() -> None:
    torch.manual_seed(3)
    conv = nn.Conv2d(8, 3, 7)
    x = torch.randn(1, 8, 21, 16).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.allclose(SpaceToDepthConv2d(conv)(x), conv(x), atol=1e-5, rtol=0)


def test_a_stride_2_transposed_convolution_is_a_3x3_convolution_of_its_phases() -> None:
    torch.manual_seed(1)
    conv = nn.ConvTranspose2d(6, 3, 4, 2, 1, bias=False)
    x = torch.randn(2, 6, 5, 7)
    got = F.pixel_shuffle(F.conv2d(x, transposed_as_conv_weight(conv), padding=1), 2)
    with torch.no_grad():
        assert torch.allclose(got, conv(x), atol=1e-5, rtol=0)


def test_a_conv_after_a_nearest_upsample_is_a_conv_of_the_small_map_giving_four_phases() -> None:
    torch.manual_seed(4)
    weight, x = torch.randn(5, 6, 3, 3), torch.randn(2, 6, 7, 4)
    big = F.interpolate(x, scale_factor=2, mode="nearest")
    want = F.conv2d(F.pad(big, (1, 1, 1, 1), mode="reflect"), weight)
    small = F.pad(x, (1, 1, 1, 1), mode="replicate")
    got = F.pixel_shuffle(F.conv2d(small, upsampled_conv_weight(weight)), 2)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("transpose", [False, True])
def test_a_packed_convolution_computes_the_module_and_its_activation_at_any_batch(transpose: bool) -> None:
    torch.manual_seed(2)
    conv: nn.Conv2d | nn.ConvTranspose2d = (nn.ConvTranspose2d(16, 8, 4, 2, 1) if transpose
                                            else nn.Conv2d(16, 8, 3, padding=1, bias=False))
    relu, tanh = PackedConv(conv, [8, 16, 6, 6], "relu"), PackedConv(conv, [8, 16, 6, 6], "tanh")
    with torch.no_grad():
        for batch in (1, 8, 11):  # packed for 8
            x = torch.randn(batch, 16, 6, 6).contiguous(memory_format=torch.channels_last)
            assert torch.allclose(relu(x), conv(x).relu(), atol=1e-5, rtol=0)
            assert torch.allclose(tanh(x), conv(x).tanh(), atol=1e-5, rtol=0)
