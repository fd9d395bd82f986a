"""Char-RNN generation: seeded, streamed, top-k and temperature as promised, unknown prime refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ml.common.checkpoint import checkpoint_dict
from ml.textgen.config import CharRNNConfig
from ml.textgen.formats import encode, one_hot
from ml.textgen.infer import generate
from ml.textgen.model import CharRNN
from ml.textgen.predict import main

TOKENS = " .,abcdefghijklmnopqrstuvwxyzIT"


def _model(seed: int = 0) -> CharRNN:
    torch.manual_seed(seed)
    return CharRNN(CharRNNConfig(tokens=TOKENS, n_hidden=16, n_layers=2)).eval()


def test_same_seed_same_text() -> None:
    model = _model()
    a = "".join(generate(model, "It is", 60, seed=3))
    b = "".join(generate(model, "It is", 60, seed=3))
    c = "".join(generate(model, "It is", 60, seed=4))
    assert a == b and len(a) == 60 and set(a) <= set(TOKENS)
    assert a != c


def test_streams_one_character_at_a_time() -> None:
    chars = generate(_model(), "a", 5, seed=0)
    assert not isinstance(chars, (str, list))
    first = next(chars)
    assert isinstance(first, str) and len(first) == 1
    assert len(list(chars)) == 4


def test_top_k_1_is_greedy() -> None:
    model = _model()
    got = "".join(generate(model, "It is", 30, temperature=0.7, top_k=1, seed=9))
    # By hand: feed the prime, then always the argmax, carrying the hidden state.
    want = []
    with torch.no_grad():
        logits, hidden = model(one_hot(encode("It is", TOKENS), len(TOKENS))[None])
        for _ in range(30):
            index = int(logits[0, -1].argmax())
            want.append(TOKENS[index])
            logits, hidden = model(one_hot(torch.tensor([[index]]), len(TOKENS)), hidden)
    assert got == "".join(want)


def test_temperature() -> None:
    model = _model()
    # Very cold sampling is greedy; very hot sampling uses (nearly) the whole vocabulary.
    cold = "".join(generate(model, "a", 40, temperature=1e-4, seed=1))
    assert cold == "".join(generate(model, "a", 40, top_k=1, seed=2))
    hot = "".join(generate(model, "a", 400, temperature=100.0, seed=1))
    assert len(set(hot)) > len(TOKENS) - 5
    with pytest.raises(ValueError, match=r"^temperature must be positive, got 0.0 \(top_k=1 is greedy\)$"):
        generate(model, "a", 5, temperature=0.0)  # at the call, before any character


def test_top_k_restricts() -> None:
    model = _model()
    # Every drawn character is one of the two likeliest at its step.
    chars = list(generate(model, "a", 20, top_k=2, seed=5))
    with torch.no_grad():
        logits, hidden = model(one_hot(encode("a", TOKENS), len(TOKENS))[None])
        for ch in chars:
            top2 = {TOKENS[i] for i in torch.topk(logits[0, -1], 2).indices.tolist()}
            assert ch in top2
            logits, hidden = model(one_hot(encode(ch, TOKENS), len(TOKENS))[None], hidden)


def test_unknown_prime_characters_refused() -> None:
    with pytest.raises(ValueError, match=r"not in the model's vocabulary: '!' 'Z'"):
        generate(_model(), "Zap!", 5)
    with pytest.raises(ValueError, match="^the prime must have at least one character to start from$"):
        generate(_model(), "", 5)


def test_grad_mode_not_leaked() -> None:
    chars = generate(_model(), "a", 3)
    next(chars)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _model()
    path = tmp_path / "m.pt"
    torch.save(checkpoint_dict(family="textgen", config=CharRNNConfig(tokens=TOKENS, n_hidden=16),
                               state_dict=model.state_dict()), path)
    assert main(["--checkpoint", str(path), "--prime", "It is", "--length", "25", "--seed", "1",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("It is") and len(out) == len("It is") + 25 + 1
    assert main(["--checkpoint", str(path), "--prime", "Zz", "--device", "cpu"]) == 1
    assert "not in the model's vocabulary" in capsys.readouterr().err


@pytest.mark.parametrize("layers", [1, 3])
def test_the_cpu_step_computes_what_the_model_does(layers: int) -> None:
    """generate() runs carried CPU steps through torch.lstm_cell (nn.LSTM's oneDNN path is ~10x
    slower for one step); it must give the model's own logits and hidden state."""
    from ml.textgen.infer import _cpu_step

    torch.manual_seed(layers)
    model = CharRNN(CharRNNConfig(tokens=TOKENS, n_hidden=24, n_layers=layers)).eval()
    x = one_hot(torch.tensor([3]), len(TOKENS)).unsqueeze(0)
    hidden = (torch.randn(layers, 1, 24), torch.randn(layers, 1, 24))
    with torch.no_grad():
        want, (h, c) = model(x, hidden)
        got, (h2, c2) = _cpu_step(model, x[0], hidden)
    torch.testing.assert_close(got, want[0, -1], rtol=0, atol=1e-6)
    torch.testing.assert_close((h2, c2), (h, c), rtol=0, atol=1e-6)
