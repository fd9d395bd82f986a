from __future__ import annotations

import pytest

from ml.style.config import StyleConfig


def test_the_defaults_are_valid_and_weigh_the_layers_as_the_udacity_notebook() -> None:
    config = StyleConfig()
    config.validate()  # raises on the first out-of-range setting
    assert config.style_layer_weights == {"conv1_1": 1.0, "conv2_1": 0.75, "conv3_1": 0.2, "conv4_1": 0.2,
                                          "conv5_1": 0.2}
    assert (config.content_layer, config.content_weight, config.style_weight) == ("conv4_2", 1.0, 1e6)
    assert config.scales[-1] == 1.0 and config.network == "auto"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 0}, "steps must be between 1 and 5000"),
        ({"steps": 5001}, "steps must be between 1 and 5000"),
        ({"max_side": 32}, "max_side must be between 64 and 2048"),
        ({"optimizer": "sgd"}, "optimizer must be one of lbfgs, adam"),
        ({"network": "resnet"}, "network must be one of"),
        ({"init": "zeros"}, "init must be one of"),
        ({"style_weight": -1.0}, "style_weight must be >= 0"),
        ({"tv_weight": -0.1}, "tv_weight must be >= 0"),
        ({"style_layer_weights": {"conv9_9": 1.0}}, "unknown style layer 'conv9_9'"),
        ({"style_layer_weights": {"conv1_1": -1.0}}, "conv1_1 must be >= 0"),
        ({"content_layer": "fc7"}, "unknown content layer"),
        ({"scales": (1.0, 0.5)}, "scales must increase and end at 1.0"),
        ({"lr": 0.0}, "lr must be in"),
    ],
)
def test_it_rejects_out_of_range_values(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StyleConfig(**changes).validate()
