"""A tiny, valid DCGAN catalog version whose seeds tell apart, for the invoke tests (unit and
integration), and a PNG's pixels to compare."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from apps.catalog import services
from apps.catalog.models import ModelVersion
from ml.common.checkpoint import checkpoint_dict
from ml.dcgan.config import DCGANConfig
from ml.dcgan.model import Generator


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def dcgan_version(seed: int) -> ModelVersion:
    cfg = DCGANConfig(nz=8, ngf=4, image_size=32)
    torch.manual_seed(seed)
    model = Generator(cfg)
    with torch.no_grad():  # fresh weights give near-grey pictures: amplify, so seeds tell apart
        for param in model.parameters():
            param.mul_(8)
    buffer = io.BytesIO()
    torch.save(checkpoint_dict(family="dcgan", config=cfg, state_dict=model.state_dict()), buffer)
    buffer.seek(0)
    version = services.add_version("dcgan", f"tiny {seed}", buffer, "g.pt")
    services.validate_version(version)
    version.refresh_from_db()
    assert version.validation == ModelVersion.Validation.VALID, version.validation_errors
    return version
