"""Char-RNN: the Udacity checkpoint (tests/ml/textgen/udacity.py) imports into a studio checkpoint
that gives the same logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ml.common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ml.common.family import config_from_dict, validate
from ml.families import get_family
from ml.textgen.formats import decode, encode, import_char_rnn, one_hot
from tests.ml.textgen.udacity import TEXT, save_udacity, udacity_dict, udacity_net


def test_udacity_checkpoint_gives_identical_logits(tmp_path: Path) -> None:
    ref = udacity_net()
    ckpt = import_char_rnn(save_udacity(ref, tmp_path / "rnn_20_epoch.net"))
    assert ckpt["family"] == "textgen"
    assert ckpt["config"] == {"tokens": "".join(ref.chars), "n_hidden": 32, "n_layers": 2, "dropout": 0.5}

    family = get_family("textgen")
    model = family.build(config_from_dict(family, ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()

    x = one_hot(encode(TEXT[:20], ckpt["config"]["tokens"]), len(ref.chars))[None]  # (1, 20, V)
    with torch.no_grad():
        want, (want_h, want_c) = ref(x, ref.init_hidden(1))
        got, (got_h, got_c) = model(x)
    assert got.shape == (1, 20, len(ref.chars))
    assert torch.allclose(got.reshape(-1, len(ref.chars)), want, atol=1e-6)
    assert torch.allclose(got_h, want_h, atol=1e-6) and torch.allclose(got_c, want_c, atol=1e-6)

    # Hidden state carries over: two halves fed in turn give the same logits as the whole.
    with torch.no_grad():
        first, hidden = model(x[:, :10])
        second, _ = model(x[:, 10:], hidden)
    assert torch.allclose(torch.cat([first, second], 1), got, atol=1e-6)


def test_imported_checkpoint_validates_and_round_trips(tmp_path: Path) -> None:
    ckpt = import_char_rnn(save_udacity(udacity_net(), tmp_path / "rnn.net"))
    report = validate(get_family("textgen"), ckpt)
    assert report.ok, report.errors
    assert report.output_shape == (1, 4, len(set(TEXT)))

    save_checkpoint(tmp_path / "studio.pt", family="textgen",
                    config=config_from_dict(get_family("textgen"), ckpt["config"]),
                    state_dict=ckpt["state_dict"])
    again = import_char_rnn(tmp_path / "studio.pt")  # a studio textgen checkpoint is accepted as is
    assert again["config"] == load_checkpoint(tmp_path / "studio.pt")["config"] == ckpt["config"]


def test_wrong_shapes_are_refused_clearly(tmp_path: Path) -> None:
    net = udacity_net()
    bad = udacity_dict(net)
    bad["n_hidden"] = 64  # the weights are for 32
    torch.save(bad, tmp_path / "bad_hidden.net")
    with pytest.raises(CheckpointError, match=r"n_hidden=64.*shape mismatch for lstm.weight_hh_l0"):
        import_char_rnn(tmp_path / "bad_hidden.net")

    bad = udacity_dict(net)
    bad["tokens"] = bad["tokens"][:-1]  # one character short of the weights' vocabulary
    torch.save(bad, tmp_path / "bad_vocab.net")
    with pytest.raises(CheckpointError, match="shape mismatch for fc.weight"):
        import_char_rnn(tmp_path / "bad_vocab.net")


def test_missing_tokens_and_other_files_are_refused(tmp_path: Path) -> None:
    net = udacity_net()
    torch.save({"n_hidden": 32, "n_layers": 2, "state_dict": net.state_dict()}, tmp_path / "no_tokens.net")
    with pytest.raises(CheckpointError, match="missing 'tokens'"):
        import_char_rnn(tmp_path / "no_tokens.net")

    torch.save(net.state_dict(), tmp_path / "plain.pth")  # weights alone: the vocabulary is lost
    with pytest.raises(CheckpointError, match="not a char-RNN checkpoint"):
        import_char_rnn(tmp_path / "plain.pth")

    torch.save({"n_hidden": 32, "n_layers": 2, "state_dict": net.state_dict(), "tokens": ("ab", "c")},
               tmp_path / "multi_char.net")
    with pytest.raises(CheckpointError, match="single characters"):
        import_char_rnn(tmp_path / "multi_char.net")

    save_checkpoint(tmp_path / "other.pt", family="dcgan",
                    config=get_family("dcgan").config_class(), state_dict={})
    with pytest.raises(CheckpointError, match="not 'textgen'"):
        import_char_rnn(tmp_path / "other.pt")


def test_encode_decode_and_one_hot() -> None:
    tokens = "abc "
    idx = encode("cab a", tokens)
    assert idx.dtype == torch.long and idx.tolist() == [2, 0, 1, 3, 0]
    assert decode(idx, tokens) == "cab a"
    x = one_hot(idx, len(tokens))
    assert x.shape == (5, 4) and x.dtype == torch.float32 and x.sum().item() == 5 and x[0, 2] == 1
    with pytest.raises(ValueError, match=r"'x' 'z'"):
        encode("zax", tokens)


def test_config_refuses_repeated_tokens() -> None:
    family = get_family("textgen")
    with pytest.raises(ValueError, match="^tokens must not repeat characters; repeated: 'a'$"):
        config_from_dict(family, {"tokens": "abca"})
