"""The Udacity char-RNN (deep-learning-v2-pytorch, recurrent-neural-networks/char-rnn), module for
module, so its state_dict (lstm.weight_ih_l0 ... fc.bias) loads unchanged: one-hot characters ->
LSTM -> dropout -> Linear to one logit per character.

One difference: Udacity's forward flattens the logits to (N*T, V); ours keeps (N, T, V).
"""

from __future__ import annotations

import torch
from torch import nn

from ml.textgen.config import CharRNNConfig

Hidden = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (n_layers, N, n_hidden)


class CharRNN(nn.Module):
    def __init__(self, cfg: CharRNNConfig) -> None:
        super().__init__()
        self.tokens = cfg.tokens
        self.n_hidden, self.n_layers = cfg.n_hidden, cfg.n_layers
        vocab = len(cfg.tokens)
        # nn.LSTM warns about dropout with one layer (it only acts between layers); same weights.
        between = cfg.dropout if cfg.n_layers > 1 else 0.0
        self.lstm = nn.LSTM(vocab, cfg.n_hidden, cfg.n_layers, dropout=between, batch_first=True)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cfg.n_hidden, vocab)

    def forward(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """(N, T, V) one-hot -> (N, T, V) logits and the new hidden state (None starts from zeros)."""
        r_output, hidden = self.lstm(x, hidden)  # (N, T, n_hidden)
        logits = self.fc(self.dropout(r_output))  # (N, T, V)
        return logits, hidden
