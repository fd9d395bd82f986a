"""CycleGAN translation in tiles: the tiles cover the image on the generator's 4-px grid, a network
without normalisation gives the untiled result back, the real (instance-norm) starter generator
stays close to it and shows no seam, progress counts tiles and cancelling stops between tiles.
Also: ``translate`` is exactly a plain forward of the generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ml.common.images import image_to_tensor, tensor_to_image
from ml.common.inference import inference_copy
from ml.common.progress import Cancelled
from ml.common.sample_scene import sample_scene
from ml.cyclegan.config import CycleGANConfig
from ml.cyclegan.formats import import_cyclegan
from ml.cyclegan.infer import fast_generator, load, tile_spans, translate, translate_tensor, translate_tiled
from ml.cyclegan.model import ResnetGenerator
from tests.conftest import ProgressLog
from tests.ml.conftest import gradient_image
from tests.ml.cyclegan.reference import randomize


def conv_toy() -> nn.Module:
    """Fully convolutional, no normalisation, but with the generator's stride-2 down and up: its
    output at a pixel depends only on the pixels near it, as long as tiles sit on its 4-px grid."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.ReflectionPad2d(1), nn.Conv2d(3, 8, 3), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ReflectionPad2d(1), nn.Conv2d(8, 3, 3), nn.Tanh(),
    ).eval()


def small_generator() -> ResnetGenerator:
    return randomize(ResnetGenerator(CycleGANConfig(ngf=4, n_blocks=1, affine=True)))  # type: ignore[return-value]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32) / 255  # (H, W, 3)


def count_forwards(model: nn.Module) -> list[int]:
    """Forwards of what the CPU entry points run: the model's inference copy, built here first (in
    eval mode, as they put the model, so they reuse it rather than build another)."""
    calls: list[int] = []
    net = inference_copy(model.eval(), fast_generator, torch.device("cpu"))
    net.register_forward_hook(lambda module, args, out: calls.append(1))
    return calls


@pytest.fixture(scope="module")
def vintagify(vintagify_weights: Path) -> nn.Module:
    """The starter generator itself: 9 residual blocks with instance norm, trained on photos."""
    return load(import_cyclegan(vintagify_weights))


# --- translate is a plain forward ------------------------------------------------------------------


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_translate_is_a_plain_forward_of_the_generator(norm: str) -> None:
    model = randomize(ResnetGenerator(CycleGANConfig(ngf=8, n_blocks=2, norm=norm, affine=True)))
    image = gradient_image((64, 64))
    x = image_to_tensor(image) * 2 - 1
    with torch.no_grad():
        want = model.eval()(x)
    assert (translate_tensor(model, x) - want).abs().max() <= 1e-5
    model.train()  # translate puts the model in eval mode itself (batch norm, dropout)
    got = translate(model, image)
    assert not model.training
    # On the CPU an instance-norm generator runs its inference copy (ml/cyclegan/infer.py): the same
    # function with other roundings, so a pixel may land one step of 255 away.
    assert np.abs(pixels(got) - pixels(tensor_to_image((want + 1) / 2))).max() <= 1 / 255 + 1e-6


# --- where the tiles go ----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [16, 100, 128, 129, 255, 257, 600, 1000, 1024, 2000, 4093])
@pytest.mark.parametrize("tile, overlap", [(128, 32), (256, 32), (512, 32), (96, 0), (64, 16)])
def test_tiles_cover_the_side_on_the_4px_grid_and_overlap_enough(length: int, tile: int,
                                                                 overlap: int) -> None:
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    if length <= tile:
        assert spans == [(0, length)]
        return
    for start, end in spans:
        assert start % 4 == 0 and tile - 3 <= end - start <= tile
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end - start >= overlap
    # No more tiles than needed: one fewer could not keep the overlap.
    assert (len(spans) - 1) * tile - (len(spans) - 2) * overlap < length


@pytest.mark.parametrize("tile, overlap", [(8, 0), (64, 33), (64, -1)])
def test_tile_spans_refuse_unusable_settings(tile: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=rf"^need tile >= 16 and 0 <= overlap <= tile / 2, got tile {tile}, "
                                          rf"overlap {overlap}$"):
        tile_spans(500, tile, overlap)


# --- the tiled result ------------------------------------------------------------------------------


def test_an_image_within_one_tile_is_translated_exactly_as_a_whole() -> None:
    model, image = small_generator(), gradient_image((90, 70))
    recorder = ProgressLog()
    got = translate_tiled(model, image, tile=128, overlap=32, progress=recorder)
    assert np.array_equal(pixels(got), pixels(translate(model, image)))
    assert recorder.updates == [(1, 1, "Tile 1 of 1")]


def test_without_normalisation_the_tiles_give_the_whole_image_back() -> None:
    model, image = conv_toy(), gradient_image((240, 176))
    tiled = pixels(translate_tiled(model, image, tile=96, overlap=16))  # 4 x 3 tiles
    whole = pixels(translate(model, image))
    difference = np.abs(tiled - whole)
    assert tiled.shape == whole.shape == (176, 240, 3)
    # Only rounding to 8 bits differs: the blend weights a tile's edge pixels, which its own
    # padding got wrong, next to nothing.
    assert difference.max() <= 2 / 255 and difference.mean() < 1e-3


def column_jumps(tiled: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """How much the tiled result's deviation from the whole-image result jumps from each column to
    the next, averaged down the column: a seam is a jump all along a tile boundary."""
    deviation = tiled - whole
    return np.abs(np.diff(deviation, axis=1)).mean(axis=(0, 2))  # (W - 1,)


def boundaries(spans: list[tuple[int, int]], width: int) -> list[int]:
    """Column indices into column_jumps where a tile starts or ends inside the image."""
    return sorted({c for start, end in spans for c in (start - 1, end - 1) if 0 <= c < width - 1})


def test_the_instance_norm_generator_stays_close_and_shows_no_seam(vintagify: nn.Module) -> None:
    image = sample_scene((256, 128))
    whole = pixels(translate(vintagify, image))
    effect = np.abs(whole - pixels(image)).mean()

    tiled = pixels(translate_tiled(vintagify, image, tile=128, overlap=32))  # 3 tiles side by side
    difference = np.abs(tiled - whole)[4:-4, 4:-4]  # away from the image's own borders
    mean, p99 = difference.mean(), np.quantile(difference, 0.99)
    # Each tile normalises its features with its own statistics, so its colours shift a little
    # from the whole image's (measured: mean 0.047, 99th percentile 0.12, against a 0.17 effect).
    assert mean < 0.06 and p99 < 0.16 and mean < effect / 2

    jumps = column_jumps(tiled, whole)
    at = boundaries(tile_spans(256, 128, 32), 256)
    elsewhere = np.delete(jumps, at)[4:-4]
    assert jumps[at].max() <= elsewhere.max()

    # The check sees seams: the same photo in two tiles that meet without a cross-fade has one.
    hard = pixels(translate_tiled(vintagify, image, tile=128, overlap=0))
    assert tile_spans(256, 128, 0) == [(0, 128), (128, 256)]
    hard_jumps = column_jumps(hard, whole)
    assert hard_jumps[127] > 1.5 * np.delete(hard_jumps, [127])[4:-4].max()


# --- progress and cancelling -----------------------------------------------------------------------


def test_progress_counts_the_tiles() -> None:
    model = small_generator()
    forwards = count_forwards(model)
    recorder = ProgressLog()
    out = translate_tiled(model, gradient_image((200, 120)), tile=64, overlap=16, progress=recorder)
    rows, cols = tile_spans(120, 64, 16), tile_spans(200, 64, 16)
    assert (len(rows), len(cols)) == (3, 4) and out.size == (200, 120)
    assert len(forwards) == 12
    assert recorder.updates == [(i, 12, f"Tile {i} of 12") for i in range(1, 13)]


@pytest.mark.parametrize("cancel_after", [0, 3])
def test_cancelling_stops_between_tiles(cancel_after: int) -> None:
    model = small_generator()
    forwards = count_forwards(model)
    recorder = ProgressLog(cancel_after=cancel_after)
    with pytest.raises(Cancelled):
        translate_tiled(model, gradient_image((200, 120)), tile=64, overlap=16, progress=recorder)
    assert len(forwards) == len(recorder.updates) == cancel_after
