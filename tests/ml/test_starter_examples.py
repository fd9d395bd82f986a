"""The starters' examples (what each model makes, for the home page): real JPEGs of a known size from
the real starter weights, the same every time; the text models' verdict and sample as plain text."""

from __future__ import annotations

import importlib.util
import io

import pytest
import torch
from PIL import Image

from ml.common.checkpoint import checkpoint_dict
from ml.common.sample_scene import sample_brushwork
from ml.common.starter import EXAMPLE_SIDE, Example, Starter
from ml.cyclegan import starter as cyclegan_starter
from ml.dcgan import starter as dcgan_starter
from ml.fast_style import starter as fast_style_starter
from ml.features import starter as features_starter
from ml.sentiment import starter as sentiment_starter
from ml.sentiment.config import SentimentConfig
from ml.sentiment.data import Vocab
from ml.sentiment.model import build_model
from ml.textgen import starter as textgen_starter
from ml.textgen.config import CharRNNConfig
from ml.textgen.model import CharRNN
from tests.conftest import unavailable

# starter -> (the picture's size, what its caption names)
PICTURES: dict[Starter, tuple[tuple[int, int], str]] = {
    dcgan_starter.STARTER: ((266, 134), "8 faces"),  # 4 x 2 faces of 64 px, 2 px apart
    cyclegan_starter.STARTER: ((EXAMPLE_SIDE, 198), "before (left) and after (right)"),  # the cat, 4:5, twice
    fast_style_starter.STARTER: ((EXAMPLE_SIDE, 213), "swirling starry blue"),  # the coffee cup, 3:2
    features_starter.STARTERS[0]: ((244, 120), "efficientnet-lite0"),  # two thumbnails and the result
}


def checkpoint_of(starter: Starter) -> dict:  # type: ignore[type-arg]
    """The starter's real checkpoint, converted from its package's file (skipped when the package is
    missing here; a failure in CI, as tests/conftest.py's install_starter does)."""
    path = starter.locate()
    if path is None:
        unavailable(starter.missing)
    assert starter.convert is not None
    return starter.convert(path)


@pytest.mark.parametrize("starter", list(PICTURES), ids=lambda s: s.key)
def test_a_picture_example_is_a_small_jpeg_of_the_expected_size(starter: Starter) -> None:
    if importlib.util.find_spec("skimage") is None:
        unavailable("the examples' photos come with scikit-image")
    assert starter.example is not None
    checkpoint = checkpoint_of(starter)
    example = starter.example(checkpoint)
    size, named = PICTURES[starter]

    with Image.open(io.BytesIO(example.image)) as img:
        assert img.format == "JPEG" and img.mode == "RGB"
        assert img.size == size and max(img.size) <= EXAMPLE_SIDE
        assert len(img.getcolors(size[0] * size[1]) or []) > 500  # a picture, not a flat fill
    assert len(example.image) < 60_000 and named in example.caption and not example.text


@pytest.mark.parametrize("starter", [dcgan_starter.STARTER, fast_style_starter.STARTER], ids=lambda s: s.key)
def test_an_example_is_the_same_every_install(starter: Starter) -> None:
    """Fixed seeds and inputs: the same bytes every time (checked on the two quick ones; the others
    draw nothing at random either)."""
    assert starter.example is not None
    checkpoint = checkpoint_of(starter)
    assert starter.example(checkpoint) == starter.example(checkpoint)


def test_the_style_image_is_drawn_the_same_every_time() -> None:
    a, b = sample_brushwork((80, 60)), sample_brushwork((80, 60))
    assert a.size == (80, 60) and a.tobytes() == b.tobytes()
    assert a.tobytes() != sample_brushwork((80, 60), seed=1).tobytes()


def sentiment_checkpoint(weights: dict[str, float]) -> dict:  # type: ignore[type-arg]
    """A bag of words with hand-set word weights, as tests/ml/sentiment/test_predict.py makes."""
    words = ["the", "film", "terrific", "excellent", "awful"]
    cfg = SentimentConfig(words=words, kind="bow", length=40)
    model, vocab = build_model(cfg), Vocab.from_words(words)
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.bias.zero_()
        for word, weight in weights.items():
            model.linear.weight[0, vocab.id(word)] = weight
    return checkpoint_dict(family="sentiment", config=cfg, state_dict=model.state_dict())


def test_the_sentiment_example_is_the_review_with_the_models_label_and_probability() -> None:
    liked = sentiment_starter.verdict_example(sentiment_checkpoint({"terrific": 2.0, "excellent": 1.0}))
    assert liked == Example(caption="The model says: positive (probability 0.95)",
                            text=sentiment_starter.EXAMPLE_REVIEW)
    # A model that reads it the other way says so: the example shows what the model does, right or wrong.
    hated = sentiment_starter.verdict_example(sentiment_checkpoint({"terrific": -2.0}))
    assert hated.caption == "The model says: negative (probability 0.88)" and not hated.image


def textgen_checkpoint(tokens: str) -> dict:  # type: ignore[type-arg]
    torch.manual_seed(0)
    cfg = CharRNNConfig(tokens=tokens, n_hidden=16, n_layers=1)
    return checkpoint_dict(family="textgen", config=cfg, state_dict=CharRNN(cfg).state_dict())


def test_the_textgen_example_is_the_start_of_a_sample_ending_on_a_whole_word() -> None:
    checkpoint = textgen_checkpoint(" .,\nabcdefghijklmnopqrstuvwxyzTE")
    example = textgen_starter.sample_example(checkpoint)

    assert example.text.startswith("The ") and example.text.endswith(" …") and not example.image
    words = example.text.removesuffix(" …")
    assert "\n" not in words and "  " not in words and len(words) <= 4 + textgen_starter.EXAMPLE_CHARS
    assert example.caption == "The start of a sample (prime 'The ', seed 0)"
    assert textgen_starter.sample_example(checkpoint) == example


def test_a_textgen_model_without_the_primes_letters_starts_from_its_first_character() -> None:
    example = textgen_starter.sample_example(textgen_checkpoint("xyz "))
    assert example.text.startswith("x") and "prime 'x'" in example.caption
