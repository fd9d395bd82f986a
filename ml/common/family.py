"""The contract every model family follows, so the catalog can validate any checkpoint the same way,
and the one way a checkpoint becomes a model (``load_model``).

Each family's ml/<family>/family.py builds one `Family` and registers it in ml/families.py. The
catalog (apps/catalog) only ever talks to families through this contract; each family's infer.py
``load`` goes through ``load_model``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import torch
from torch import nn

from ml.common.checkpoint import CheckpointError, PathOrFile, load_checkpoint


@dataclass(frozen=True)
class Family:
    name: str  # "dcgan", "cyclegan", "fast-style", ...
    config_class: type  # a @dataclass; its fields are what the checkpoint's "config" holds
    build: Callable[[Any], nn.Module]  # config instance -> untrained module with the right shapes
    example_input: Callable[[Any], torch.Tensor]  # config -> a tiny input for the dry-run forward
    description: str = ""
    # "module:function" reading a file in one of the family's public formats (ml/<family>/formats.py)
    # into a studio checkpoint dict, CheckpointError when it is none of them; imported only when a
    # file comes (the formats pull in more). "": the family reads only studio files.
    importer: str = ""

    def import_public(self, path: str) -> dict[str, Any]:
        """A file in one of the family's public formats -> studio checkpoint (see ``importer``)."""
        module, name = self.importer.split(":")
        checkpoint: dict[str, Any] = getattr(importlib.import_module(module), name)(path)
        return checkpoint


@dataclass
class ValidationReport:
    ok: bool
    family: str
    errors: list[str] = field(default_factory=list)
    parameters: int = 0
    output_shape: tuple[int, ...] = ()


def config_from_dict(family: Family, data: dict[str, Any]) -> Any:
    """Build the family's config from a checkpoint's dict, refusing unknown keys by name."""
    known = {f.name for f in fields(family.config_class)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CheckpointError(f"unknown {family.name} config keys: {', '.join(unknown)}")
    return family.config_class(**data)


def check_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Every way the state_dict does not fit the model, in words (empty list when it fits)."""
    expected = model.state_dict()
    errors = []
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing:
        errors.append(f"missing keys: {_some(missing)}")
    if unexpected:
        errors.append(f"unexpected keys: {_some(unexpected)}")
    for key in sorted(set(expected) & set(state_dict)):
        want, got = tuple(expected[key].shape), tuple(state_dict[key].shape)
        if want != got:
            errors.append(f"shape mismatch for {key}: checkpoint {got}, model {want}")
    for key, value in state_dict.items():
        if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all():
            errors.append(f"non-finite values (NaN/inf) in {key}")
    return errors


def _some(keys: list[str], limit: int = 20) -> str:
    return ", ".join(keys[:limit]) + (f" ... ({len(keys)} in all)" if len(keys) > limit else "")


def validate(family: Family, checkpoint: dict[str, Any]) -> ValidationReport:
    """Config parses, state_dict fits the architecture exactly, a tiny forward gives finite output."""
    report = ValidationReport(ok=False, family=family.name)
    try:
        config = config_from_dict(family, checkpoint.get("config") or {})
        model = family.build(config)
    except (CheckpointError, TypeError, ValueError) as exc:
        report.errors.append(f"bad config: {exc}")
        return report
    report.errors = check_state_dict(model, checkpoint["state_dict"])
    if report.errors:
        return report
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    report.parameters = sum(p.numel() for p in model.parameters())
    with torch.inference_mode():
        out = model(family.example_input(config))
    if isinstance(out, tuple):  # recurrent nets return (output, hidden state)
        out = out[0]
    report.output_shape = tuple(out.shape)
    if not torch.isfinite(out).all() or math.isnan(float(out.float().abs().sum())):
        report.errors.append("dry-run forward gave non-finite output")
        return report
    report.ok = True
    return report


_validate = validate  # for load_model, whose keyword argument hides the name


M = TypeVar("M", bound=nn.Module)
Source = dict[str, Any] | PathOrFile  # a checkpoint dict, or a studio checkpoint file to read


def as_checkpoint(source: Source) -> dict[str, Any]:
    """``source`` itself when it is a checkpoint dict, else the studio checkpoint file it names, read
    with the one checkpoint helper (weights_only)."""
    return source if isinstance(source, dict) else load_checkpoint(source)


def load_model(family: Family, source: Source, kind: type[M], *, device: torch.device | str = "cpu",
               validate: bool = True) -> M:
    """The one way a checkpoint becomes a model: an eval-mode ``kind`` on ``device``.

    ``source`` is a checkpoint dict (a catalog version's, or an importer's from ml/<family>/formats.py)
    or a studio checkpoint file. It must belong to ``family``; with ``validate`` it must pass
    ``validate`` (CheckpointError joins its errors), which a catalog version already did when it was
    added. Then config -> architecture -> weights. ``kind`` is the class the caller relies on: the
    family contract promises only an nn.Module (TypeError when the family built something else).
    """
    checkpoint = as_checkpoint(source)
    if checkpoint.get("family") != family.name:
        raise CheckpointError(f"not a {family.name} checkpoint (family {checkpoint.get('family')!r})")
    if validate:
        report = _validate(family, checkpoint)
        if not report.ok:
            raise CheckpointError("; ".join(report.errors))
    model = family.build(config_from_dict(family, checkpoint["config"]))
    model.load_state_dict(checkpoint["state_dict"])
    if not isinstance(model, kind):
        raise TypeError(f"the {family.name} family built a {type(model).__name__}, not a {kind.__name__}")
    return model.eval().to(device)
