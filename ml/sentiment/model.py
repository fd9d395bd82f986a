"""The sentiment models. Both take ids (N, L) (0 = padding, on either side) and return one logit per
text (N,): apply a sigmoid for the probability of "positive"; training uses BCEWithLogitsLoss."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ml.sentiment.config import SentimentConfig
from ml.sentiment.data import PAD


class SentimentLSTM(nn.Module):
    """Embedding -> LSTM (one way or both) -> the last real step's hidden state (Udacity
    sentiment-rnn; or the mean, the maximum or both over the real steps' outputs, ``cfg.pool``) ->
    dropout -> Linear -> logit. Padding never reaches the LSTM or the pooling: the real words are moved
    to the front and packed, so left- and right-padded copies of a text give the same output as the
    text alone.

    With ``cfg.window`` the words are read in windows of that many words, one every half window (the
    last one may be shorter): each window gets its own logit (``window_logits``, what training fits,
    each window labelled as its text), and a text's output is the logit of the mean of its windows'
    probabilities. A 700-word review is then 14 short readings, not one long one: the LSTM never has
    to carry a verdict across 700 steps, and one review is 14 training examples.
    """

    def __init__(self, cfg: SentimentConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embedding_dim, padding_idx=PAD)
        self.embedding_dropout = nn.Dropout(cfg.embedding_dropout)
        self.lstm = nn.LSTM(cfg.embedding_dim, cfg.hidden, cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0, bidirectional=cfg.bidirectional)
        self.dropout = nn.Dropout(cfg.dropout)
        width = cfg.hidden * (2 if cfg.bidirectional else 1)
        self.fc = nn.Linear(width * (2 if cfg.pool == "meanmax" else 1), 1)
        self.pool = cfg.pool
        self.window = cfg.window

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not self.window:
            return self.fc(self.dropout(self._features(_real_words_first(ids)))).squeeze(1)
        logits, owner = self.window_logits(ids)
        total = torch.zeros(len(ids), device=ids.device).index_add_(0, owner, torch.sigmoid(logits))
        counts = torch.zeros(len(ids), device=ids.device).index_add_(0, owner, torch.ones_like(logits))
        return torch.logit(total / counts, eps=1e-6)  # every text has at least one window

    def window_logits(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One logit per window, and the row of ``ids`` (the text) each window comes from. A text
        with no known words still gets one window (of padding), so every text has an output."""
        ids = _real_words_first(ids)
        size, step = self.window, max(1, self.window // 2)
        extra = size - ids.shape[1] if ids.shape[1] < size else -(ids.shape[1] - size) % step
        ids = nn.functional.pad(ids, (0, extra), value=PAD)
        windows = ids.unfold(1, size, step)  # (texts, windows, size)
        words = (ids != PAD).sum(dim=1, keepdim=True)
        starts = torch.arange(windows.shape[1], device=ids.device)[None, :] * step
        # A window is read if it is the first or the one before it stopped short of the text's end.
        wanted = (starts == 0) | (starts - step + size < words)
        owner = wanted.nonzero()[:, 0]
        return self.fc(self.dropout(self._features(windows[wanted]))).squeeze(1), owner

    def _features(self, ids: torch.Tensor) -> torch.Tensor:
        """The pooled LSTM outputs of right-padded ``ids``. Rows without padding (nearly every
        window) run as one plain batch, the rest packed: packing costs several times as long."""
        lengths = (ids != PAD).sum(dim=1)
        full = lengths == ids.shape[1]
        if bool(full.all()):
            return self._pooled_plain(ids)
        if not bool(full.any()):
            return self._pooled_packed(ids, lengths)
        out = ids.new_zeros((len(ids), self.fc.in_features), dtype=self.fc.weight.dtype)
        out[full] = self._pooled_plain(ids[full])
        out[~full] = self._pooled_packed(ids[~full], lengths[~full])
        return out

    def _embedded(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding_dropout(self.embedding(ids))

    def _pooled_plain(self, ids: torch.Tensor) -> torch.Tensor:
        steps, (h_n, _) = self.lstm(self._embedded(ids))
        return self._pool(steps, h_n, None)

    def _pooled_packed(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # A text with no known words still needs one step (of padding) for the LSTM to run.
        lengths = lengths.clamp(min=1).cpu()
        packed = pack_padded_sequence(self._embedded(ids), lengths, batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        steps, _ = pad_packed_sequence(out, batch_first=True)  # (N, longest, width), zeros past each end
        return self._pool(steps, h_n, lengths.to(steps.device))

    def _pool(self, steps: torch.Tensor, h_n: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """``lengths`` None: every row is real to its end."""
        if self.pool == "last":
            # The top layer's final states (packing stops each text at its last real step); a
            # backward LSTM's final state is the one at the text's first word.
            return torch.cat([h_n[-2], h_n[-1]], dim=1) if self.lstm.bidirectional else h_n[-1]
        if lengths is None:
            mean, top = steps.mean(dim=1), steps.max(dim=1).values
        else:
            mean = steps.sum(dim=1) / lengths[:, None].to(steps.dtype)
            # Padding must never win the maximum: it is pushed below any output (an LSTM's are in (-1, 1)).
            past_end = torch.arange(steps.shape[1], device=steps.device)[None, :] >= lengths[:, None]
            top = steps.masked_fill(past_end[:, :, None], -2.0).max(dim=1).values
        return {"mean": mean, "max": top, "meanmax": torch.cat([mean, top], dim=1)}[self.pool]


def _real_words_first(ids: torch.Tensor) -> torch.Tensor:
    """``ids`` with each row's words first, in their order, then its padding: right padding. A
    stable sort on "is padding" does it."""
    order = torch.sort((ids == PAD).to(torch.int8), dim=1, stable=True).indices
    return ids.gather(1, order)


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
