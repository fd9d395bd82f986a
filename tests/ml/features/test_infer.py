from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.common.checkpoint import load_state_dict_file
from ml.features.formats import lite0_weights_path
from ml.features.infer import load_feature_network
from ml.features.model import LITE_MEAN, LITE_STD, EfficientNetLite0

ALL = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1")


def features(net: torch.nn.Module, height: int, width: int) -> dict[str, torch.Tensor]:
    """The maps ``net`` gives for a random image, checked to be exactly the layers of ALL."""
    with torch.no_grad():
        feats = net(torch.rand(1, 3, height, width))
    assert set(feats) == set(ALL)
    return feats


def shapes(feats: dict[str, torch.Tensor]) -> list[tuple[int, ...]]:
    """(channels, height, width) of each map, in the order of ALL."""
    return [tuple(feats[layer].shape[1:]) for layer in ALL]


def test_efficientnet_gives_finite_features_of_expected_shapes() -> None:
    net, name = load_feature_network("efficientnet-lite0", ALL)
    assert name == "efficientnet-lite0"
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    feats = features(net, 64, 96)
    assert shapes(feats) == [(32, 32, 48), (144, 16, 24), (240, 8, 12), (480, 4, 6), (240, 8, 12),
                             (672, 4, 6)]
    assert all(torch.isfinite(v).all() for v in feats.values())


def test_it_is_truncated_after_the_deepest_requested_layer() -> None:
    shallow, _ = load_feature_network("efficientnet-lite0", ("conv1_1", "conv2_1"))
    deep, _ = load_feature_network("efficientnet-lite0", ALL)
    assert sum(p.numel() for p in shallow.parameters()) < sum(p.numel() for p in deep.parameters()) / 5


def test_it_loads_once_per_process() -> None:
    a, _ = load_feature_network("efficientnet-lite0", ALL)
    b, _ = load_feature_network("efficientnet-lite0", ALL)
    assert a is b


def test_auto_falls_back_to_efficientnet_without_vgg_weights(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("STUDIO_VGG19_WEIGHTS", str(tmp_path / "missing.pth"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert load_feature_network("auto")[1] == "efficientnet-lite0"


def test_classifier_logits_are_sane_on_a_structured_image() -> None:
    """The SAME-padding port must reproduce a real network: logits finite, softmax not uniform,
    and stable under a 1-pixel shift (a broken port is dominated by padding artefacts)."""
    model = EfficientNetLite0()
    model.load_state_dict(load_state_dict_file(lite0_weights_path()))
    model.eval()
    yy, xx = np.mgrid[0:224, 0:224] / 224.0
    img = torch.tensor(np.stack([xx, yy, 0.5 + 0.5 * np.sin(xx * 20)]), dtype=torch.float32)[None]
    mean, std = (
        torch.tensor(LITE_MEAN).view(1, 3, 1, 1),
        torch.tensor(LITE_STD).view(1, 3, 1, 1),
    )
    with torch.no_grad():
        logits = model((img - mean) / std)
        shifted = model((torch.roll(img, 1, dims=3) - mean) / std)
    assert torch.isfinite(logits).all() and logits.std() > 0.5
    assert logits.softmax(1).max() > 10 / 1000
    assert torch.corrcoef(torch.cat([logits, shifted]))[0, 1] > 0.9


def test_explicit_vgg19_fails_fast_and_clearly_when_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from ml.features import formats

    monkeypatch.delenv("STUDIO_VGG19_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(formats, "_reachable", lambda host, port=443, timeout=3.0: False)
    with pytest.raises(RuntimeError, match="STUDIO_VGG19_WEIGHTS"):
        load_feature_network("vgg19", ("conv1_1",))


def test_vgg19_taps_post_relu_maps_at_udacity_indices(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Random weights in torchvision's file layout stand in for the real 550 MB download."""
    from torchvision.models.vgg import cfgs, make_layers

    from ml.features import infer

    monkeypatch.setattr(infer, "_CACHE", {})  # keep the random net out of the process cache
    sd = {f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}
    sd["classifier.0.weight"] = torch.zeros(1)  # the real file has a classifier; it is ignored
    torch.save(sd, tmp_path / "vgg19.pth")
    monkeypatch.setenv("STUDIO_VGG19_WEIGHTS", str(tmp_path / "vgg19.pth"))
    net, name = load_feature_network("auto", ALL)
    assert name == "vgg19"
    assert len(net.features) == 30  # cut after conv5_1's ReLU (index 29)
    feats = features(net, 64, 64)
    assert shapes(feats) == [(64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 8, 8),
                             (512, 4, 4)]
    assert all(float(v.min()) >= 0 for v in feats.values())  # post-ReLU, as Udacity's in-place ReLU gives
