from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ml.style.predict import main
from tests.ml.conftest import gradient_image, texture_image


def test_cli_writes_the_image_and_reports_network_and_loss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gradient_image().save(tmp_path / "c.png")
    texture_image().save(tmp_path / "s.jpg")
    out = tmp_path / "out.png"
    args = [str(tmp_path / "c.png"), str(tmp_path / "s.jpg"), "-o", str(out), "--steps", "3"]
    code = main([*args, "--size", "64", "--network", "efficientnet-lite0", "--device", "cpu"])
    assert code == 0
    assert Image.open(out).size == (64, 51)
    printed = capsys.readouterr().out
    assert "network: efficientnet-lite0" in printed and "final loss:" in printed


def test_cli_rejects_a_non_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.jpg").write_text("not a picture")
    texture_image().save(tmp_path / "s.png")
    assert main([str(tmp_path / "c.jpg"), str(tmp_path / "s.png"), "--steps", "2"]) == 2
    c = tmp_path / "c.jpg"
    assert capsys.readouterr().err == f"error: content image {c}: not an image (unrecognised file format)\n"


def test_cli_uses_a_studio_feature_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ml.common.checkpoint import save_checkpoint
    from ml.features.config import StyleFeaturesConfig
    from ml.features.formats import import_efficientnet_lite0

    checkpoint = import_efficientnet_lite0()
    save_checkpoint(tmp_path / "lite0.pt", family="style-features", config=StyleFeaturesConfig(),
                    state_dict=checkpoint["state_dict"])
    gradient_image().save(tmp_path / "c.png")
    texture_image().save(tmp_path / "s.png")
    args = [str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"), "--steps", "2",
            "--size", "64", "--device", "cpu", "--checkpoint", str(tmp_path / "lite0.pt")]
    assert main(args) == 0
    assert "network: efficientnet-lite0" in capsys.readouterr().out
    assert Image.open(tmp_path / "o.png").size == (64, 51)


def test_cli_refuses_a_checkpoint_that_is_not_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gradient_image().save(tmp_path / "c.png")
    texture_image().save(tmp_path / "s.png")
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 not really")
    args = [str(tmp_path / "c.png"), str(tmp_path / "s.png"), "--checkpoint", str(tmp_path / "bad.pt")]
    assert main(args) == 2
    assert capsys.readouterr().err == "error: not a checkpoint: file is truncated or corrupt\n"
