"""A char-RNN from its checkpoint (``load``), and writing text with it, one character at a time
(Udacity's ``sample``, streamed; the command line is ml/textgen/predict.py).

The prime runs through the net once; then each new character is drawn from the last output and fed
back with the hidden state carried, so a step costs one LSTM step whatever the text's length. The
sampling stays on the model's device (softmax, top-k, torch.multinomial with a seeded
torch.Generator); only the chosen index comes back, to be yielded. The same seed on the same device
gives the same text.

A prime with characters the model never saw is refused (ValueError naming them) rather than
skipped: a silently shortened prime would steer the text somewhere the user did not ask for.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ml.common.family import Source, load_model
from ml.textgen.family import FAMILY
from ml.textgen.formats import encode, one_hot
from ml.textgen.model import CharRNN, Hidden


def load(source: Source, device: torch.device | str = "cpu", *, validate: bool = True) -> CharRNN:
    """A "textgen" studio checkpoint (dict or file; Udacity files go through
    formats.import_char_rnn first) -> eval-mode model on ``device``; see ml.common.family.load_model."""
    return load_model(FAMILY, source, CharRNN, device=device, validate=validate)


def generate(model: CharRNN, prime: str, length: int, temperature: float = 1.0, top_k: int | None = None,
             seed: int = 0, device: torch.device | str | None = None) -> Iterator[str]:
    """Yield ``length`` new characters (the prime is not repeated), each as soon as it is drawn.

    ``temperature`` divides the logits (below 1: safer, above: wilder; must be > 0); ``top_k`` keeps
    the k likeliest characters (None or >= the vocabulary: all; 1: greedy). The model is put in eval
    mode on ``device`` (default: where its weights are). Errors (a bad setting, a prime with unknown
    characters) are raised at the call, before any character is yielded.
    """
    if not prime:
        raise ValueError("the prime must have at least one character to start from")
    if length < 0:
        raise ValueError(f"length must be 0 or more, got {length}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature} (top_k=1 is greedy)")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    indices = encode(prime, model.tokens)  # ValueError names characters outside the vocabulary
    model.to(dev).eval()
    return _stream(model, indices.to(dev), length, temperature, top_k, seed, dev)


def _stream(model: CharRNN, prime: torch.Tensor, length: int, temperature: float, top_k: int | None,
            seed: int, device: torch.device) -> Iterator[str]:
    rng = torch.Generator(device=device).manual_seed(seed)
    logits, hidden = _step(model, prime, None)
    for i in range(length):
        index = _sample(logits, temperature, top_k, rng)
        yield model.tokens[int(index)]  # the one device -> host copy per character
        if i + 1 < length:
            logits, hidden = _step(model, index.view(1), hidden)


@torch.inference_mode()
def _step(model: CharRNN, indices: torch.Tensor, hidden: Hidden | None) -> tuple[torch.Tensor, Hidden]:
    """Feed (T,) indices; the last position's logits (V,) and the hidden state. Inference mode per
    step, not around the generator: grad mode must not leak to the caller between yields."""
    x = one_hot(indices, len(model.tokens)).unsqueeze(0)  # (1, T, V)
    if hidden is not None and indices.numel() == 1 and x.device.type == "cpu":
        return _cpu_step(model, x[0], hidden)
    logits, hidden = model(x, hidden)
    return logits[0, -1], hidden


def _cpu_step(model: CharRNN, x: torch.Tensor, hidden: Hidden) -> tuple[torch.Tensor, Hidden]:
    """One character on the CPU, layer by layer with ``torch.lstm_cell`` (nn.LSTMCell's kernel): the
    same weights and arithmetic as ``model(x, hidden)``, without the oneDNN LSTM that nn.LSTM picks
    on CPU, which re-lays out every weight matrix at each call; for one time step that took ~13 ms
    at n_hidden 512 where the cells take ~1 ms (bench/text_tools.py)."""
    lstm, (h, c) = model.lstm, hidden
    hs, cs = [], []
    for layer in range(model.n_layers):
        h_l, c_l = torch.lstm_cell(x, (h[layer], c[layer]), getattr(lstm, f"weight_ih_l{layer}"),
                                   getattr(lstm, f"weight_hh_l{layer}"), getattr(lstm, f"bias_ih_l{layer}"),
                                   getattr(lstm, f"bias_hh_l{layer}"))
        hs.append(h_l)
        cs.append(c_l)
        x = h_l  # dropout between layers and before fc acts in training only; the model is in eval
    return model.fc(x)[0], (torch.stack(hs), torch.stack(cs))


@torch.inference_mode()
def _sample(logits: torch.Tensor, temperature: float, top_k: int | None,
            rng: torch.Generator) -> torch.Tensor:
    """One index (a 0-d tensor on the logits' device) drawn from softmax(logits / temperature),
    restricted to the ``top_k`` likeliest."""
    scaled = logits.float() / temperature
    if top_k is not None and top_k < scaled.numel():
        values, candidates = torch.topk(scaled, top_k)
        choice = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=rng)
        return candidates[choice[0]]
    return torch.multinomial(torch.softmax(scaled, dim=-1), 1, generator=rng)[0]
