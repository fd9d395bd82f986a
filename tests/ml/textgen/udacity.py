"""The Udacity char-rnn notebook's model (same attribute names, so the same state_dict keys, and the
same forward) and its checkpoint, written exactly as the notebook saves it: the public format the
studio imports."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune"


class UdacityCharRNN(nn.Module):  # deep-learning-v2-pytorch char-rnn, same structure
    def __init__(self, tokens, n_hidden=256, n_layers=2, drop_prob=0.5, lr=0.001):
        super().__init__()
        self.drop_prob = drop_prob
        self.n_layers = n_layers
        self.n_hidden = n_hidden
        self.lr = lr
        self.chars = tokens
        self.int2char = dict(enumerate(self.chars))
        self.char2int = {ch: ii for ii, ch in self.int2char.items()}
        self.lstm = nn.LSTM(len(self.chars), n_hidden, n_layers, dropout=drop_prob, batch_first=True)
        self.dropout = nn.Dropout(drop_prob)
        self.fc = nn.Linear(n_hidden, len(self.chars))

    def forward(self, x, hidden):
        r_output, hidden = self.lstm(x, hidden)
        out = self.dropout(r_output)
        out = out.contiguous().view(-1, self.n_hidden)
        out = self.fc(out)
        return out, hidden

    def init_hidden(self, batch_size):
        weight = next(self.parameters()).data
        return (
            weight.new(self.n_layers, batch_size, self.n_hidden).zero_(),
            weight.new(self.n_layers, batch_size, self.n_hidden).zero_(),
        )


def udacity_net() -> UdacityCharRNN:
    torch.manual_seed(0)
    chars = tuple(sorted(set(TEXT)))  # the notebook uses tuple(set(text)): any order works
    return UdacityCharRNN(chars, n_hidden=32, n_layers=2).eval()


def udacity_dict(net: UdacityCharRNN) -> dict:
    """What the notebook saves (and nothing else)."""
    return {
        "n_hidden": net.n_hidden,
        "n_layers": net.n_layers,
        "state_dict": net.state_dict(),
        "tokens": net.chars,
    }


def save_udacity(net: UdacityCharRNN, path: Path) -> Path:
    with open(path, "wb") as f:
        torch.save(udacity_dict(net), f)
    return path
