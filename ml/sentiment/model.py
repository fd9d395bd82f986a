"""The sentiment models. Both take ids (N, L) (0 = padding, on either side) and return one logit per
text (N,): apply a sigmoid for the probability of "positive"; training uses BCEWithLogitsLoss."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ml.sentiment.config import SentimentConfig
from ml.sentiment.data import PAD


class SentimentLSTM(nn.Module):
    """Embedding -> LSTM -> the last real step's hidden state (Udacity sentiment-rnn; or the mean or
    maximum over the real steps' outputs, ``cfg.pool``) -> dropout -> Linear -> logit. Padding never
    reaches the LSTM or the pooling: the real words are moved to the front and packed, so left- and
    right-padded copies of a text give the same output as the text alone.
    """

    def __init__(self, cfg: SentimentConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embedding_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(cfg.embedding_dim, cfg.hidden, cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cfg.hidden, 1)
        self.pool = cfg.pool

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        real = ids != PAD
        # A stable sort on "is padding" puts each row's words first, in their order: right padding.
        order = torch.sort((~real).to(torch.int8), dim=1, stable=True).indices
        ids = ids.gather(1, order)
        # A text with no known words still needs one step (of padding) for the LSTM to run.
        lengths = real.sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        if self.pool == "last":
            # h_n[-1] is the top layer at each text's last real step (packing stops each one there).
            return self.fc(self.dropout(h_n[-1])).squeeze(1)
        steps, _ = pad_packed_sequence(out, batch_first=True)  # (N, longest, hidden), zeros past each end
        lengths = lengths.to(steps.device)
        if self.pool == "mean":
            pooled = steps.sum(dim=1) / lengths[:, None].to(steps.dtype)
        else:  # max: padding must never win, so it is pushed below any output (an LSTM's are in (-1, 1))
            past_end = torch.arange(steps.shape[1], device=steps.device)[None, :] >= lengths[:, None]
            pooled = steps.masked_fill(past_end[:, :, None], -2.0).max(dim=1).values
        return self.fc(self.dropout(pooled)).squeeze(1)


class BagOfWords(nn.Module):
    """Logistic regression on word counts: one weight per vocabulary id (padding counts for
    nothing). The baseline the LSTM has to beat."""

    def __init__(self, cfg: SentimentConfig) -> None:
        super().__init__()
        self.vocab_size = cfg.vocab_size
        self.linear = nn.Linear(cfg.vocab_size, 1)

    def counts(self, ids: torch.Tensor) -> torch.Tensor:
        counts = torch.zeros(ids.shape[0], self.vocab_size, device=ids.device)
        counts.scatter_add_(1, ids, torch.ones_like(ids, dtype=counts.dtype))
        counts[:, PAD] = 0.0
        return counts

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.linear(self.counts(ids)).squeeze(1)


def build_model(cfg: SentimentConfig) -> nn.Module:
    return SentimentLSTM(cfg) if cfg.kind == "lstm" else BagOfWords(cfg)
