from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ml.style.stylize import main
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
    assert "not an image" in capsys.readouterr().err
