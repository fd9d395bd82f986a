"""Tensors that claim more than the file holds: refused by ``check_tensors`` right after the safe load,
before any value is touched, with the tensor's key path in the message.

weights_only builds any view that fits its storage as torch sees it, so a stride-0 view of 4 bytes
can claim shape (1000000, 512, 4, 4): 32 GB the first time anything copies it. The files here are
made with torch.save of such views, or, for what torch.save cannot write (negative offsets and
strides), of an object that pickles as the very call torch uses to rebuild a tensor.
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import torch

from ml.common.checkpoint import (
    CheckpointError,
    check_tensors,
    load_any,
    load_checkpoint,
    load_state_dict_file,
)

HOSTILE = "a malformed or hostile checkpoint"


def saved(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def studio(state: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A studio checkpoint dict by hand: checkpoint_dict makes contiguous copies, which is what a
    hostile file must not get from us."""
    return {"format": "studio-checkpoint", "version": 1, "family": "dcgan", "config": {},
            "state_dict": state, "extra": extra or {}}


def refused(obj: Any, message: str, load: Any = load_any) -> None:
    with pytest.raises(CheckpointError) as caught:
        load(io.BytesIO(saved(obj)))
    assert str(caught.value) == message


class Rebuilt:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` (allowed by
    weights_only, as for every tensor): a tensor view torch.save would never write."""

    def __init__(self, base: torch.Tensor, offset: int, size: tuple[int, ...],
                 stride: tuple[int, ...]) -> None:
        self.base, self.offset, self.size, self.stride = base, offset, size, stride

    def __reduce__(self) -> tuple[Any, ...]:
        storage = torch.storage.TypedStorage(wrap_storage=self.base.untyped_storage(), dtype=self.base.dtype,
                                             _internal=True)
        return (torch._utils._rebuild_tensor_v2,
                (storage, self.offset, self.size, self.stride, False, OrderedDict()))


# --- what the problem was ------------------------------------------------------------------------


@pytest.mark.parametrize("load", [load_any, load_checkpoint])
def test_a_stride_0_view_of_4_bytes_claiming_32_gb_is_refused_by_name(load: Any) -> None:
    claim = torch.empty(1).as_strided((1_000_000, 512, 4, 4), (0, 0, 0, 0))
    assert len(saved(claim)) < 2000  # the whole claim fits in a tiny file
    refused(studio({"main.0.weight": claim}),
            "tensor 'state_dict.main.0.weight' claims 32,768,000,000 bytes (shape (1000000, 512, 4, 4)) "
            f"but the file stores only 4 bytes for it: {HOSTILE}", load)


def test_an_expanded_tensor_is_refused_with_what_the_file_stores() -> None:
    refused({"generator": {"main.0.weight": torch.zeros(16).expand(500, 16)}},
            "tensor 'generator.main.0.weight' claims 32,000 bytes (shape (500, 16)) but the file stores "
            f"only 64 bytes for it: {HOSTILE}", load_state_dict_file)


def test_a_claim_in_the_optimizer_state_is_named_by_its_path() -> None:
    model = torch.nn.Linear(3, 2)
    # What Adam's state_dict() holds after a step (built by hand: a real step costs seconds of imports).
    state = {"state": {i: {"step": torch.tensor(1.0), "exp_avg": torch.zeros_like(p),
                           "exp_avg_sq": torch.zeros_like(p)} for i, p in enumerate(model.parameters())},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]}
    state["state"][1]["exp_avg_sq"] = torch.zeros(1).expand(100_000)
    refused(studio(model.state_dict(), {"optimizer": state, "step": 1}),
            "tensor 'extra.optimizer.state.1.exp_avg_sq' claims 400,000 bytes (shape (100000,)) but the "
            f"file stores only 4 bytes for it: {HOSTILE}")


def test_a_stride_0_view_inside_its_storage_is_refused_too() -> None:
    """Within the bytes, but one value repeated: nothing torch.save writes for weights."""
    refused({"w": torch.zeros(8)[:1].expand(4)},
            f"tensor 'w' has stride 0 in dimension 0 (of size 4): {HOSTILE}")


# --- what torch refuses itself, reworded ---------------------------------------------------------


def test_a_negative_storage_offset_is_refused() -> None:
    refused({"w": Rebuilt(torch.zeros(4), -2, (2,), (1,))},
            f"refused: a tensor starts at storage offset -2, before its data: {HOSTILE}")


def test_a_negative_stride_is_refused() -> None:
    refused({"w": Rebuilt(torch.zeros(4), 3, (4,), (-1,))},
            f"refused: a tensor's strides are negative or overflow: {HOSTILE}")


@pytest.mark.parametrize(("offset", "size", "stride"), [(2, (4,), (1,)), (0, (2,), (1 << 40,))])
def test_a_view_past_the_end_of_its_storage_is_refused(offset: int, size: tuple[int, ...],
                                                       stride: tuple[int, ...]) -> None:
    refused({"w": Rebuilt(torch.zeros(4), offset, size, stride)},
            "refused: a tensor claims more bytes than the file holds for it")


# --- checked here, by name -----------------------------------------------------------------------


def test_a_tensor_whose_storage_is_smaller_than_its_claim_is_named() -> None:
    """torch checks this when it loads; the check holds for any object, whoever built it."""
    shrunk = torch.zeros(4)
    shrunk.untyped_storage().resize_(0)
    with pytest.raises(CheckpointError, match=rf"^tensor 'a.0' claims 16 bytes \(shape \(4,\)\) but the "
                                              rf"file stores only 0 bytes for it: {HOSTILE}$"):
        check_tensors({"a": [shrunk]}, 1000)


def test_a_view_reaching_past_its_storage_is_named() -> None:
    view = torch.zeros(4)[2:]  # offset 2, two values: the last 8 of 16 bytes
    view.untyped_storage().resize_(12)
    with pytest.raises(CheckpointError) as caught:
        check_tensors({"w": view}, 1000)
    assert str(caught.value) == ("tensor 'w' reaches byte 16 of its storage (offset 2, shape (2,), strides "
                                 f"(1,)) but the file stores only 12 bytes for it: {HOSTILE}")


def test_a_meta_tensor_of_any_size_is_refused() -> None:
    class Meta:
        def __reduce__(self) -> tuple[Any, ...]:
            return (torch._utils._rebuild_meta_tensor_no_storage,
                    (torch.float32, (1_000_000, 512), (512, 1), False))

    refused(studio({"main.0.weight": Meta()}),
            f"tensor 'state_dict.main.0.weight' is a 'meta' tensor with no data in the file: {HOSTILE}")


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's notes on sparse invariant checks
def test_a_sparse_tensor_is_refused() -> None:
    one_value = torch.sparse_coo_tensor(torch.tensor([[0], [0]]), torch.tensor([1.0]), (10**6, 10**6))
    refused({"w": one_value}, f"tensor 'w' is not a plain dense tensor (layout torch.sparse_coo): {HOSTILE}")


def test_many_views_of_the_same_bytes_are_refused_in_all() -> None:
    """Each fits its storage, but 40 views of one 16 KB storage claim 640 KB: a copy of each (an
    importer's .contiguous(), isfinite) would amplify the file 40 times."""
    base = torch.zeros(4000)
    content = saved({f"w{i}": base.view(40, 100) for i in range(40)})
    with pytest.raises(CheckpointError) as caught:
        load_any(io.BytesIO(content))
    assert str(caught.value) == (f"refused: the tensors claim 640,000 bytes in all, over 4 times the "
                                 f"{len(content):,} bytes of the file (views of the same bytes, repeated): "
                                 f"{HOSTILE}")


# --- what is fine --------------------------------------------------------------------------------


def test_views_tied_weights_and_broadcast_size_1_dimensions_load(tmp_path: Path) -> None:
    """What real checkpoints hold: tied weights (one storage, two keys), slices of one storage, and
    position ids as arange(n).expand(1, -1) makes them (stride 0 on a dimension of size 1)."""
    embedding = torch.randn(10, 4)
    flat = torch.randn(12)
    state = {"embed.weight": embedding, "head.weight": embedding, "a": flat[:6].view(2, 3), "b": flat[6:],
             "position_ids": Rebuilt(torch.arange(5), 0, (1, 5), (0, 1)), "step": torch.tensor(3)}
    torch.save(state, tmp_path / "ok.pt")
    loaded = load_state_dict_file(tmp_path / "ok.pt")
    assert torch.equal(loaded["head.weight"], embedding) and torch.equal(loaded["b"], flat[6:])
    assert loaded["position_ids"].stride() == (0, 1)


def test_cycles_and_deep_nesting_are_walked_once() -> None:
    cycle: list[Any] = [torch.ones(2)]
    cycle.append(cycle)
    deep: list[Any] = [torch.zeros(1).expand(3)]
    for _ in range(300):
        deep = [deep]
    assert load_any(io.BytesIO(saved({"cycle": cycle})))["cycle"][1][1][0].shape == (2,)
    with pytest.raises(CheckpointError, match=r"^tensor 'deep(\.0){301}' claims 12 bytes"):
        load_any(io.BytesIO(saved({"deep": deep})))


def test_a_tensor_used_as_a_dict_key_is_checked() -> None:
    refused({"keys": {torch.zeros(1).expand(9): "x"}},
            f"tensor 'keys.<key 0>' claims 36 bytes (shape (9,)) but the file stores only 4 bytes for it: "
            f"{HOSTILE}")


def test_the_check_reads_metadata_only() -> None:
    """10,000 tensors (a big model has a few hundred), then one claiming 32 GB through stride 0, in
    about 0.2 s on a shared CPU: only sizes, strides and offsets are read, never a value."""
    base = torch.zeros(10_000 * 16)
    many: dict[str, Any] = {f"layer{i}.weight": base[i * 16:(i + 1) * 16].view(4, 4) for i in range(10_000)}
    start = time.perf_counter()
    check_tensors({"state_dict": many}, base.untyped_storage().nbytes())
    many["last"] = torch.empty(1).as_strided((1_000_000, 512, 4, 4), (0, 0, 0, 0))
    with pytest.raises(CheckpointError, match="^tensor 'state_dict.last' claims 32,768,000,000 bytes"):
        check_tensors({"state_dict": many}, base.untyped_storage().nbytes())
    assert time.perf_counter() - start < 2.0
