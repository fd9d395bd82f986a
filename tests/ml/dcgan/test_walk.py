"""DCGAN latent walks and chunked sampling: slerp between two seeds' latents, the strip and the GIF,
and sample() against a plain forward of the same generator."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageSequence

from ml.common.progress import Cancelled
from ml.dcgan import predict as sample_cli
from ml.dcgan.config import DCGANConfig
from ml.dcgan.infer import (
    CHUNK,
    draw,
    generate,
    grid,
    latent_walk,
    latents,
    sample,
    slerp,
    strip,
    walk_gif,
)
from ml.dcgan.model import Generator
from tests.conftest import ProgressLog
from tests.ml.dcgan.reference import NGF, NZ, reference


def generator() -> Generator:
    """Random weights and batch-norm statistics (pytorch/examples layout), left in train mode:
    the functions under test must switch to eval themselves."""
    model = Generator(DCGANConfig(nz=NZ, ngf=NGF))
    model.load_state_dict(reference().state_dict())
    return model.train()


def test_each_seeds_latent_is_the_one_sample_uses() -> None:
    z = latents(NZ, [3, 7])
    assert z.shape == (2, NZ, 1, 1)
    for row, seed in zip(z, (3, 7), strict=True):
        alone = torch.randn(1, NZ, 1, 1, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(row, alone[0])
        assert torch.equal(row, draw(NZ, 1, seed)[0])


def test_slerp_ends_at_the_seeds_latents_and_keeps_the_norm() -> None:
    za, zb = latents(100, [3, 7])
    z = slerp(za, zb, torch.linspace(0, 1, 9))
    assert z.shape == (9, 100, 1, 1) and z.dtype == torch.float32
    assert torch.equal(z[0], za) and torch.equal(z[-1], zb)
    norms = z.flatten(1).norm(dim=1)
    low, high = sorted((float(za.norm()), float(zb.norm())))
    # Along the great circle the norm stays between the ends' (about sqrt(100) = 10) ...
    assert all(low - 1e-4 <= float(n) <= high + 1e-4 for n in norms), norms
    # ... where the straight line's midpoint sinks to about 10 / sqrt(2).
    assert float(((za + zb) / 2).norm()) < 0.8 * low


def test_slerp_of_a_latent_with_itself_stays_put() -> None:
    (za,) = latents(NZ, [5])
    z = slerp(za, za, torch.linspace(0, 1, 4))
    assert all(torch.equal(frame, za) for frame in z)


def test_the_walk_starts_and_ends_at_the_seeds_samples() -> None:
    model = generator()
    frames = latent_walk(model, 3, 7, steps=5)
    assert frames.shape == (5, 3, 64, 64) and frames.min() >= 0 and frames.max() <= 1
    assert torch.allclose(frames[0], sample(model, 1, seed=3)[0], atol=1e-6, rtol=0)
    assert torch.allclose(frames[-1], sample(model, 1, seed=7)[0], atol=1e-6, rtol=0)
    assert not torch.allclose(frames[1], frames[0]) and not torch.allclose(frames[1], frames[-1])


def test_the_same_seeds_give_identical_frames() -> None:
    model = generator()
    first = latent_walk(model, 3, 7, steps=4)
    torch.manual_seed(99)  # the global RNG must not matter
    assert torch.equal(first, latent_walk(model, 3, 7, steps=4))
    still = latent_walk(model, 5, 5, steps=3)
    assert all(torch.equal(frame, still[0]) for frame in still)


def test_a_walk_needs_two_steps() -> None:
    with pytest.raises(ValueError, match="at least 2 steps"):
        latent_walk(generator(), 1, 2, steps=1)


def test_sample_equals_a_plain_forward_of_the_same_generator() -> None:
    """The reference: what the pytorch/examples generator gives for the same z, eval, no_grad."""
    n, seed = 2 * CHUNK + 5, 11  # more than one chunk
    ref = reference()
    z = torch.randn(n, NZ, 1, 1, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = ((ref.eval()(z) + 1) / 2).clamp(0, 1)
    got = sample(generator(), n, seed)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-6, rtol=0), float((got - expected).abs().max())


def test_chunking_does_not_change_the_images() -> None:
    model = generator()
    z = draw(NZ, 40, seed=2)
    one_batch = generate(model, z, chunk=40)
    chunked = generate(model, z, chunk=16)
    singles = generate(model, z, chunk=1)
    assert torch.allclose(chunked, one_batch, atol=1e-6, rtol=0)
    assert torch.allclose(singles, one_batch, atol=1e-6, rtol=0)
    # What a user downloads is 8-bit: those pixels must be exactly the same.
    assert grid(chunked).tobytes() == grid(one_batch).tobytes() == grid(singles).tobytes()


def test_progress_moves_per_chunk_and_cancel_stops_between_chunks() -> None:
    model = generator()
    recorder = ProgressLog()
    n = 2 * CHUNK + 8
    sample(model, n, seed=0, progress=recorder)
    assert [(s, t) for s, t, _ in recorder.updates] == [(CHUNK, n), (2 * CHUNK, n), (n, n)]
    assert recorder.updates[-1][2] == f"{n}/{n} images"
    stopper = ProgressLog(cancel_after=1)
    with pytest.raises(Cancelled):
        sample(model, n, seed=0, progress=stopper)
    assert len(stopper.updates) == 1


def gif_frames(data: bytes) -> tuple[Image.Image, list[Image.Image]]:
    gif = Image.open(io.BytesIO(data))
    return gif, [frame.convert("RGB") for frame in ImageSequence.Iterator(gif)]


def test_the_gif_loops_with_one_frame_per_step() -> None:
    frames = latent_walk(generator(), 3, 7, steps=6)
    gif, images = gif_frames(walk_gif(frames, duration_ms=80, scale=2))
    assert gif.format == "GIF" and gif.n_frames == 6 and len(images) == 6
    assert gif.info["loop"] == 0  # forever
    assert gif.info["duration"] == 80
    assert gif.size == (128, 128)


def test_the_pingpong_gif_goes_there_and_back() -> None:
    frames = latent_walk(generator(), 3, 7, steps=5)
    gif, images = gif_frames(walk_gif(frames, scale=1, pingpong=True))
    assert gif.n_frames == 2 * 5 - 2 and gif.info["loop"] == 0 and gif.size == (64, 64)
    # The way back shows the same frames in reverse (GIF palettes: compare loosely).
    for back, forth in ((5, 3), (6, 2), (7, 1)):
        diff = torch.tensor(list(images[back].tobytes()), dtype=torch.float32) - \
            torch.tensor(list(images[forth].tobytes()), dtype=torch.float32)
        assert float(diff.abs().mean()) < 2.0


def test_the_strip_puts_every_frame_in_one_row() -> None:
    frames = latent_walk(generator(), 1, 2, steps=7)
    assert strip(frames).size == (2 + 7 * 66, 2 + 66)


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    torch.save({"netG_state_dict": reference().state_dict()}, tmp_path / "weights.tar")
    return tmp_path / "weights.tar"


def test_the_cli_writes_a_walk_strip(tmp_path: Path, weights: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "walk.png"
    args = ["-o", str(out), "--walk", "3", "7", "--steps", "4", "--checkpoint", str(weights),
            "--device", "cpu"]
    assert sample_cli.main(args) == 0
    assert Image.open(out).size == (2 + 4 * 66, 68)
    assert "4-frame walk from seed 3 to seed 7" in capsys.readouterr().out


def test_the_cli_writes_a_walk_gif_by_the_suffix(tmp_path: Path, weights: Path) -> None:
    common = ["--walk", "3", "7", "--steps", "4", "--checkpoint", str(weights), "--device", "cpu"]
    assert sample_cli.main(["-o", str(tmp_path / "walk.gif"), *common]) == 0
    assert sample_cli.main(["-o", str(tmp_path / "back.gif"), "--pingpong", "--scale", "1", *common]) == 0
    walk, back = Image.open(tmp_path / "walk.gif"), Image.open(tmp_path / "back.gif")
    assert (walk.n_frames, walk.size) == (4, (128, 128))
    assert (back.n_frames, back.size) == (6, (64, 64))


def test_the_cli_refuses_a_one_step_walk(weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        sample_cli.main(["--walk", "1", "2", "--steps", "1", "--checkpoint", str(weights)])
    assert "--steps must be at least 2" in capsys.readouterr().err


def test_the_cpu_copy_is_built_once_and_follows_the_weights() -> None:
    """sample() runs a folded, channels-last copy on the CPU: built on the first call, reused, and
    rebuilt when the weights change in place (as training's fixed-latent samples see them)."""
    from ml.common.inference import ATTRIBUTE

    model = generator()
    first = sample(model, 3, seed=1)
    copy = model.__dict__[ATTRIBUTE][1]
    assert torch.equal(sample(model, 3, seed=1), first) and model.__dict__[ATTRIBUTE][1] is copy
    with torch.no_grad():
        model.main[1].running_mean.add_(0.5)
        want = ((model.eval()(draw(NZ, 3, 1)) + 1) / 2).clamp(0, 1)
    got = sample(model, 3, seed=1)
    assert model.__dict__[ATTRIBUTE][1] is not copy
    assert torch.allclose(got, want, atol=1e-6, rtol=0)
