"""The "style-features" family: public VGG19 / EfficientNet-Lite0 weights import into studio
checkpoints, and FeatureNets built from those give the features the original networks give."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from ml.common.checkpoint import CheckpointError, save_checkpoint
from ml.common.family import validate
from ml.families import get_family
from ml.features.config import StyleFeaturesConfig
from ml.features.formats import import_efficientnet_lite0, import_torchvision_vgg19
from ml.features.infer import load as load_features
from ml.features.infer import load_feature_network
from ml.features.model import IMAGENET_MEAN, IMAGENET_STD
from ml.style.config import StyleConfig

ALL = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1")


@pytest.fixture(scope="module")
def vgg19(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Sequential, dict]:
    """torchvision's own vgg19 conv stack (random weights, biases too) saved as its hub file is laid
    out, ``features.*`` and ``classifier.*`` keys, and that file imported. The classifier's tensors
    are stand-ins: the importer drops them, and the real 120 M parameters take seconds to draw."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["E"], batch_norm=False).eval()  # what vgg19() builds as .features
    with torch.no_grad():
        for m in features:
            if isinstance(m, torch.nn.Conv2d):
                m.bias.normal_(0, 0.1)
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state.update({f"classifier.{i}.{part}": torch.zeros(2) for i in (0, 3, 6) for part in ("weight", "bias")})
    path = tmp_path_factory.mktemp("hub") / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    return features, import_torchvision_vgg19(path)


@pytest.fixture(scope="module")
def lite0() -> dict:
    """The package's EfficientNet-Lite0 as a studio checkpoint (imported once; tests copy it)."""
    return import_efficientnet_lite0()


def test_vgg19_features_match_torchvision_slices(vgg19) -> None:
    features, ckpt = vgg19
    assert ckpt["family"] == "style-features" and ckpt["config"] == {"network": "vgg19"}
    assert not any(k.startswith("classifier.") for k in ckpt["state_dict"])
    assert len(ckpt["state_dict"]) == 32  # 16 convolutions, weight + bias
    assert validate(get_family("style-features"), ckpt).ok

    net, name = load_features(ckpt, ("conv1_1", "conv4_2"))
    assert name == "vgg19" and not net.training and not any(p.requires_grad for p in net.parameters())
    x = torch.rand(1, 3, 48, 40)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    normalised = (x - mean) / std
    with torch.no_grad():
        got = net(x)
        # Udacity reads conv1_1 at index 0 and conv4_2 at 21 after in-place ReLUs: post-ReLU maps,
        # i.e. the output of the slice that ends with the ReLU after each conv.
        want_11 = features[:2](normalised.clone())
        want_42 = features[:23](normalised.clone())
    assert set(got) == {"conv1_1", "conv4_2"}
    assert torch.allclose(got["conv1_1"], want_11, atol=1e-5)
    assert torch.allclose(got["conv4_2"], want_42, atol=1e-5)
    assert float(want_42.abs().sum()) > 0  # the comparison is not between two zero maps


def test_vgg19_default_layers_are_all_six(vgg19) -> None:
    net, _ = load_features(vgg19[1])
    assert net.layers == tuple(sorted(ALL))
    with torch.no_grad():
        assert set(net(torch.rand(1, 3, 32, 32))) == set(ALL)


def test_non_vgg19_files_are_refused(tmp_path: Path) -> None:
    from torchvision.models.vgg import cfgs, make_layers

    classifier_only = {"classifier.0.weight": torch.zeros(8, 4), "classifier.0.bias": torch.zeros(8)}
    torch.save(classifier_only, tmp_path / "classifier.pth")
    with pytest.raises(CheckpointError, match="no 'features"):
        import_torchvision_vgg19(tmp_path / "classifier.pth")

    with torch.device("meta"):  # real key names and shapes, no weights needed
        vgg19_shapes = {f"features.{k}": v.shape for k, v in make_layers(cfgs["E"]).state_dict().items()}
        vgg16_keys = [f"features.{k}" for k in make_layers(cfgs["D"]).state_dict()]
    wrong = {k: torch.zeros(shape) for k, shape in vgg19_shapes.items() if k.startswith("features.0.")}
    wrong["features.0.weight"] = torch.zeros(64, 3, 5, 5)  # a 5x5 first conv: not VGG19
    torch.save(wrong, tmp_path / "wrong_shape.pth")
    with pytest.raises(CheckpointError, match=r"not a torchvision VGG19.*shape mismatch for features\.0\.w"):
        import_torchvision_vgg19(tmp_path / "wrong_shape.pth")

    torch.save({k: torch.zeros(1) for k in vgg16_keys}, tmp_path / "vgg16.pth")  # 13 convs, not 16
    with pytest.raises(CheckpointError, match="missing keys"):
        import_torchvision_vgg19(tmp_path / "vgg16.pth")

    with pytest.raises(CheckpointError, match="not an EfficientNet-Lite0"):
        import_efficientnet_lite0(tmp_path / "vgg16.pth")


def test_efficientnet_import_validates_and_matches_the_builtin(lite0: dict, tmp_path: Path) -> None:
    ckpt = lite0
    assert ckpt["config"] == {"network": "efficientnet-lite0"}
    assert "Apache-2.0" in ckpt["extra"]["licence"]
    report = validate(get_family("style-features"), ckpt)
    assert report.ok, report.errors
    assert report.output_shape == (1, 1000)

    # Through a file, as the catalog stores it: a studio checkpoint is accepted back as is.
    save_checkpoint(tmp_path / "lite0.pt", family="style-features",
                    config=StyleFeaturesConfig(), state_dict=ckpt["state_dict"], extra=ckpt["extra"])
    again = import_efficientnet_lite0(tmp_path / "lite0.pt")
    with pytest.raises(CheckpointError, match="not 'vgg19'"):
        import_torchvision_vgg19(tmp_path / "lite0.pt")

    net, name = load_features(again)
    builtin, _ = load_feature_network("efficientnet-lite0", ALL)
    assert name == "efficientnet-lite0" and net.content_gain == builtin.content_gain
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        got, want = net(x), builtin(x)
    assert set(got) == set(want) == set(ALL)
    for layer in ALL:
        assert torch.allclose(got[layer], want[layer], atol=1e-6), layer


def test_loading_features_refuses_other_checkpoints(lite0: dict) -> None:
    ckpt = lite0
    with pytest.raises(CheckpointError, match="not a style-features checkpoint"):
        load_features({**ckpt, "family": "dcgan"})
    with pytest.raises(CheckpointError, match="weights do not fit vgg19"):
        load_features({**ckpt, "config": {"network": "vgg19"}})
    with pytest.raises(CheckpointError, match="network must be one of"):
        load_features({**ckpt, "config": {"network": "resnet50"}})
    with pytest.raises(ValueError, match="unknown feature layers"):
        load_features(ckpt, ("relu1_1",))


def test_stylize_uses_the_given_feature_network(lite0: dict, monkeypatch: pytest.MonkeyPatch,
                                                content_img: Image.Image, style_img: Image.Image) -> None:
    from ml.style import infer as gatys

    def not_called(*args: object, **kw: object) -> None:
        raise AssertionError("stylize loaded its own feature network")

    monkeypatch.setattr(gatys, "load_feature_network", not_called)
    features = load_features(lite0)
    cfg = StyleConfig(steps=3, max_side=64, network="auto", scales=(1.0,))
    result = gatys.stylize(cfg, content_img, style_img, features=features)
    assert result.network == "efficientnet-lite0" and result.steps_done == 3

    shallow = load_features(lite0, ("conv1_1",))
    with pytest.raises(ValueError, match="lacks layers"):
        gatys.stylize(cfg, content_img, style_img, features=shallow)


def test_style_grams_of_different_weights_are_not_shared(lite0: dict, content_img, style_img) -> None:
    from ml.style.infer import stylize
    from ml.style.model import GRAM_CACHE

    ckpt = lite0
    other = {**ckpt, "state_dict": {k: v * 1.01 if k == "_conv_stem.weight" else v
                                    for k, v in ckpt["state_dict"].items()}}
    cfg = StyleConfig(steps=1, max_side=64, scales=(1.0,))
    GRAM_CACHE.clear()
    stylize(cfg, content_img, style_img, features=load_features(ckpt))
    stylize(cfg, content_img, style_img, features=load_features(other))
    assert GRAM_CACHE.hits == 0
    stylize(cfg, content_img, style_img, features=load_features(ckpt))
    assert GRAM_CACHE.hits == 1
