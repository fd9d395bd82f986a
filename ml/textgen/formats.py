"""Import the Udacity char-RNN checkpoint into a studio checkpoint, and turn text into model input.

The Udacity notebook saves ``{'n_hidden', 'n_layers', 'state_dict', 'tokens'}`` with ``tokens`` the
tuple of characters in index order (``tuple(set(text))``: arbitrary, so it must travel with the
weights). A tuple of str loads under weights_only=True; no code runs. A studio checkpoint of family
"textgen" is accepted too (checked and returned as is).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO, Any

import torch
import torch.nn.functional as F

from ml.common.checkpoint import (
    DEFAULT_MAX_BYTES,
    CheckpointError,
    as_family_checkpoint,
    checkpoint_dict,
    load_any,
)
from ml.common.family import check_state_dict
from ml.textgen.config import CharRNNConfig
from ml.textgen.model import CharRNN

FAMILY = "textgen"
UDACITY_KEYS = ("n_hidden", "n_layers", "state_dict", "tokens")

Source = str | os.PathLike[str] | IO[bytes]


def import_char_rnn(path_or_fileobj: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Read a Udacity char-RNN checkpoint and return a studio checkpoint dict whose state_dict
    fits ``CharRNN`` exactly; every problem is a CheckpointError that says what is wrong."""
    obj = load_any(path_or_fileobj, max_bytes=max_bytes)
    existing = as_family_checkpoint(obj, FAMILY)
    if existing is not None:
        return existing
    if not isinstance(obj, dict):
        raise CheckpointError("not a char-RNN checkpoint: expected a dict with " + ", ".join(UDACITY_KEYS))
    missing = [k for k in UDACITY_KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"not a char-RNN checkpoint: missing {', '.join(map(repr, missing))}")
    state_dict = obj["state_dict"]
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError("not a char-RNN checkpoint: 'state_dict' must map names to tensors")
    if state_dict and all(k.startswith("module.") for k in state_dict):  # saved from DataParallel
        state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    cfg = _config(obj)
    with torch.device("meta"):  # names and shapes only: no memory, no weight init
        expected = CharRNN(cfg)
    errors = check_state_dict(expected, state_dict)
    if errors:
        raise CheckpointError(
            f"char-RNN weights do not fit n_hidden={cfg.n_hidden}, n_layers={cfg.n_layers}, "
            f"{len(cfg.tokens)} tokens: " + "; ".join(errors)
        )
    extra = {
        "imported_from": "Udacity char-rnn checkpoint",
        "source": "udacity/deep-learning-v2-pytorch recurrent-neural-networks/char-rnn layout",
    }
    return checkpoint_dict(family=FAMILY, config=cfg, state_dict=state_dict, extra=extra)


def _config(obj: dict[str, Any]) -> CharRNNConfig:
    tokens = obj["tokens"]
    if isinstance(tokens, str):
        tokens = tuple(tokens)
    if not isinstance(tokens, (tuple, list)) or not all(isinstance(t, str) and len(t) == 1 for t in tokens):
        raise CheckpointError("not a char-RNN checkpoint: 'tokens' must be a sequence of single characters")
    # From a safetensors file's metadata the sizes come as text ("32").
    sizes = {k: int(v) if isinstance(v, str) and v.isdigit() else v
             for k, v in obj.items() if k in ("n_hidden", "n_layers")}
    try:
        return CharRNNConfig(tokens="".join(tokens), **sizes)
    except ValueError as exc:
        raise CheckpointError(f"bad char-RNN settings: {exc}") from exc


def encode(text: str, tokens: str | Sequence[str]) -> torch.Tensor:
    """Characters -> (len(text),) int64 indices into ``tokens``; ValueError names any character the
    vocabulary lacks (a model can only be primed with characters it was trained on)."""
    index = {ch: i for i, ch in enumerate(tokens)}
    unknown = sorted({ch for ch in text if ch not in index})
    if unknown:
        raise ValueError(f"characters not in the model's vocabulary: {' '.join(map(repr, unknown))}")
    return torch.tensor([index[ch] for ch in text], dtype=torch.long)


def decode(indices: torch.Tensor | Sequence[int], tokens: str | Sequence[str]) -> str:
    """Indices -> text, the inverse of ``encode``."""
    values = indices.tolist() if isinstance(indices, torch.Tensor) else list(indices)
    return "".join(tokens[i] for i in values)


def one_hot(indices: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """(...,) int64 indices -> (..., n_tokens) float32 one-hot, the model's input encoding."""
    return F.one_hot(indices, n_tokens).float()
