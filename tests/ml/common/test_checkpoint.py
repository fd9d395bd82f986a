from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import torch

from ml.common.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state_dict_file,
    save_checkpoint,
)


@dataclass
class TinyConfig:
    width: int = 4
    name: str = "tiny"


def test_it_round_trips_config_state_and_extra(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    path = tmp_path / "ck.pt"
    save_checkpoint(
        path,
        family="tiny",
        config=TinyConfig(width=7),
        state_dict=model.state_dict(),
        extra={"epoch": 3},
    )
    ck = load_checkpoint(path)
    assert ck["format"] == "studio-checkpoint" and ck["version"] == 1 and ck["family"] == "tiny"
    assert ck["config"] == {"width": 7, "name": "tiny"}
    assert ck["extra"] == {"epoch": 3}
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(ck["state_dict"])
    assert torch.equal(fresh.weight, model.weight)


def test_it_loads_from_a_file_object() -> None:
    buf = io.BytesIO()
    save_checkpoint(buf, family="tiny", config=TinyConfig(), state_dict={"w": torch.ones(2)})
    buf.seek(0)
    assert torch.equal(load_checkpoint(buf)["state_dict"]["w"], torch.ones(2))


def test_it_requires_a_dataclass_config(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="^config must be a dataclass instance$"):
        save_checkpoint(tmp_path / "x.pt", family="t", config={"a": 1}, state_dict={})
    assert not (tmp_path / "x.pt").exists()


class Payload:
    """Unpickling this would run os.system and leave a marker file behind."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_it_refuses_a_pickle_that_runs_code_and_does_not_run_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "studio-checkpoint", "state_dict": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="refused: contains code/objects"):
        load_checkpoint(path)
    assert not marker.exists()


def test_it_refuses_a_raw_pickle_payload(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    with pytest.raises(CheckpointError, match="^refused: contains code/objects that are not plain tensors$"):
        load_state_dict_file(path)
    assert not marker.exists()


def test_it_rejects_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    save_checkpoint(path, family="t", config=TinyConfig(), state_dict={"w": torch.randn(64, 64)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


@pytest.mark.parametrize("load", [load_checkpoint, load_state_dict_file])
def test_a_zip_without_a_pickle_is_named_not_a_pytorch_file(tmp_path: Path, load: Any) -> None:
    path = tmp_path / "ck.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/hello.txt", "not a model")
    with pytest.raises(CheckpointError,
                       match=r"^not a checkpoint: a zip archive, but not a PyTorch file \(no data.pkl\)$"):
        load(path)


@pytest.mark.parametrize(("content", "message"), [
    (b"hello", "not a checkpoint: not a PyTorch file"),
    (b"", "checkpoint is empty"),
])
def test_it_rejects_text_and_empty_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "ck.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match=f"^{message}$"):
        load_checkpoint(tmp_path / "ck.pt")


def test_it_rejects_a_plain_state_dict_as_a_studio_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "sd.pt"
    torch.save({"w": torch.ones(1)}, path)
    with pytest.raises(CheckpointError, match="not a studio checkpoint"):
        load_checkpoint(path)
    assert set(load_state_dict_file(path)) == {"w"}


def test_it_names_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    torch.save({"format": "studio-checkpoint", "version": 1, "family": "t"}, path)
    with pytest.raises(CheckpointError, match="missing keys: config, state_dict"):
        load_checkpoint(path)


def test_it_checks_size_before_loading(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    save_checkpoint(path, family="t", config=TinyConfig(), state_dict={"w": torch.zeros(1000)})
    too_large = rf"^checkpoint too large: {path.stat().st_size:,} bytes \(limit 1,000\)$"
    with mock.patch("ml.common.checkpoint.torch.load") as load:
        with pytest.raises(CheckpointError, match=too_large):
            load_checkpoint(path, max_bytes=1000)
        with pytest.raises(CheckpointError, match=too_large):
            load_state_dict_file(path, max_bytes=1000)
    load.assert_not_called()


def _rewritten(data: bytes, compress_type: int = zipfile.ZIP_STORED, pickle_from: int = 0,
               pickle_to: int = 0, cut_record_to: int | None = None) -> bytes:
    """The torch zip ``data`` written again: records compressed, a BININT in data.pkl replaced (the
    numel of a storage and the tensor's shape), and/or the tensor's record cut short."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress_type) as archive:
        for info in source.infolist():
            record = source.read(info.filename)
            if info.filename.endswith("/data.pkl") and pickle_from:
                record = record.replace(b"J" + struct.pack("<i", pickle_from),
                                        b"J" + struct.pack("<i", pickle_to))
            if "/data/" in info.filename and cut_record_to is not None:
                record = record[:cut_record_to]
            archive.writestr(info.filename, record)
    return out.getvalue()


def test_it_refuses_a_compressed_archive_before_torch_reads_it() -> None:
    """torch.save never compresses, but torch.load inflates compressed records into memory: a small
    file could claim gigabytes. Refused from the zip directory alone."""
    buffer = io.BytesIO()
    save_checkpoint(buffer, family="t", config=TinyConfig(), state_dict={"w": torch.zeros(100_000)})
    squeezed = _rewritten(buffer.getvalue(), zipfile.ZIP_DEFLATED)
    with mock.patch("ml.common.checkpoint.torch.load") as load, \
            pytest.raises(CheckpointError, match=rf"refused: the file claims [\d,]+ bytes of data but "
                                                 rf"holds only {len(squeezed):,} \(compressed records"):
        load_checkpoint(io.BytesIO(squeezed))
    load.assert_not_called()


def test_it_refuses_a_tensor_that_claims_more_than_its_record_holds() -> None:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(70_001)}, buffer)
    lying = _rewritten(buffer.getvalue(), pickle_from=70_001, pickle_to=500_000_000, cut_record_to=16)
    with pytest.raises(CheckpointError,
                       match="refused: the file claims 2,000,000,000 bytes for a tensor but holds only 16"):
        load_state_dict_file(io.BytesIO(lying))


def test_it_reads_the_legacy_format_and_its_lies_and_cuts(tmp_path: Path) -> None:
    """Pre-1.6 public .pth files are not zips: the archive check leaves them to torch.load."""
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(70_001)}, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    assert torch.equal(load_state_dict_file(io.BytesIO(data))["w"], torch.ones(70_001))
    lying = data.replace(b"J" + struct.pack("<i", 70_001), b"J" + struct.pack("<i", 500_000_000))
    with pytest.raises(CheckpointError, match="refused: a tensor claims more bytes than the file holds"):
        load_state_dict_file(io.BytesIO(lying))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_state_dict_file(io.BytesIO(data[: len(data) // 2]))
