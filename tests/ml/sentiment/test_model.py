"""Sentiment text handling and models: tokenisation, the vocabulary, padding-independence of the
LSTM, the bag of words, and the family's validation."""

from __future__ import annotations

import pytest
import torch

from ml.common.checkpoint import checkpoint_dict
from ml.common.family import validate
from ml.families import get_family
from ml.sentiment.config import SentimentConfig
from ml.sentiment.data import OOV, PAD, Vocab, encode, tokenize
from ml.sentiment.model import BagOfWords, SentimentLSTM, build_model

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["A great, GREAT film!", "Terrible... just terrible.", "great acting; don't miss it", ""]


def test_tokenize_documented_behaviour() -> None:
    assert tokenize("A great, GREAT film!") == ["a", "great", "great", "film"]
    assert tokenize("don't  well-made\n\tok") == ["dont", "wellmade", "ok"]
    assert tokenize("...!") == []
    # Round trip: tokens joined by spaces tokenise to themselves.
    tokens = tokenize(TEXTS[2])
    assert tokenize(" ".join(tokens)) == tokens


def test_vocab_by_frequency_and_restore() -> None:
    vocab = Vocab.build(TEXTS)
    assert vocab.words[:2] == ("great", "terrible")  # 3 and 2 uses; then ties by the word
    assert vocab.id("great") == 2 and vocab.id("unknown") == OOV
    assert vocab.size == len(vocab.words) + 2
    small = Vocab.build(TEXTS, max_size=2)
    assert small.words == ("great", "terrible")
    restored = Vocab.from_words(list(vocab.words))
    assert restored == vocab and restored.ids(["film", "zzz"]) == vocab.ids(["film", "zzz"])


def test_encode_pads_and_truncates() -> None:
    vocab = Vocab.build(TEXTS)
    left, lengths = encode(TEXTS, vocab, 4, pad="left")
    right, lengths_r = encode(TEXTS, vocab, 4, pad="right")
    assert lengths.tolist() == lengths_r.tolist() == [4, 3, 4, 0]
    assert left[1, 0] == PAD and right[1, 3] == PAD and left[1, 1:].tolist() == right[1, :3].tolist()
    assert left[3].tolist() == [PAD] * 4
    assert left[2].tolist() == vocab.ids(["great", "acting", "dont", "miss"])  # first 4 words kept
    last, _ = encode(TEXTS, vocab, 3, pad="right", keep="last")
    assert last[2].tolist() == vocab.ids(["dont", "miss", "it"])  # a review's verdict is at its end
    with pytest.raises(ValueError, match="^pad must be 'left' or 'right', got 'middle'$"):
        encode(TEXTS, vocab, 4, pad="middle")


def tiny_config(kind: str = "lstm", words: int = 30) -> SentimentConfig:
    return SentimentConfig(words=[f"w{i}" for i in range(words)], kind=kind, embedding_dim=6, hidden=5,
                           layers=2, dropout=0.3, length=8)


def reference_lstm(model: SentimentLSTM, seq: list[int]) -> torch.Tensor:
    """The LSTM on one text with no padding at all, its last step through the output layer."""
    out, _ = model.lstm(model.embedding(torch.tensor([seq])))
    return model.fc(out[:, -1]).squeeze()


def padded(seqs: list[list[int]], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``seqs`` padded with 0 on the left, and on the right, to ``width``."""
    left = torch.zeros(len(seqs), width, dtype=torch.long)
    right = torch.zeros_like(left)
    for i, s in enumerate(seqs):
        left[i, width - len(s):] = torch.tensor(s)
        right[i, :len(s)] = torch.tensor(s)
    return left, right


def test_lstm_left_right_padding_match_unpadded_reference() -> None:
    torch.manual_seed(0)
    model = SentimentLSTM(tiny_config()).eval()
    seqs = [[2, 3, 4, 5, 6, 7, 8, 9], [5, 1, 9], [12], [3, 3, 7, 20, 31]]
    left, right = padded(seqs, 8)
    with torch.no_grad():
        ref = torch.stack([reference_lstm(model, s) for s in seqs])
        torch.testing.assert_close(model(left), ref, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(model(right), ref, atol=1e-6, rtol=1e-5)
        assert torch.isfinite(model(torch.zeros(2, 8, dtype=torch.long))).all()  # no words at all


@pytest.mark.parametrize("pool", ["mean", "max"])
def test_pooled_lstm_reads_only_the_real_steps(pool: str) -> None:
    torch.manual_seed(0)
    cfg = tiny_config()
    cfg.pool = pool
    model = SentimentLSTM(cfg).eval()
    seqs = [[2, 3, 4, 5, 6, 7, 8, 9], [5, 1, 9], [12]]
    left, right = padded(seqs, 8)
    with torch.no_grad():
        refs = []
        for s in seqs:  # the text alone, no padding: its outputs pooled over its own steps
            out, _ = model.lstm(model.embedding(torch.tensor([s])))
            refs.append(model.fc(out.mean(1) if pool == "mean" else out.max(1).values).squeeze())
        ref = torch.stack(refs)
        torch.testing.assert_close(model(left), ref, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(model(right), ref, atol=1e-6, rtol=1e-5)
        assert torch.isfinite(model(torch.zeros(2, 8, dtype=torch.long))).all()


def test_bag_of_words_is_logistic_regression_on_counts() -> None:
    model = BagOfWords(tiny_config("bow"))
    ids = torch.tensor([[0, 0, 2, 2, 5], [3, 0, 0, 0, 0]])
    counts = model.counts(ids)
    assert counts[0, 2] == 2 and counts[0, 5] == 1 and counts[0, PAD] == 0 and counts[1].sum() == 1
    with torch.no_grad():
        expected = counts @ model.linear.weight[0] + model.linear.bias
        torch.testing.assert_close(model(ids), expected)


@pytest.mark.parametrize("kind", ["lstm", "bow"])
def test_family_validates_checkpoint_with_vocab(kind: str) -> None:
    family = get_family("sentiment")
    cfg = tiny_config(kind)
    ckpt = checkpoint_dict(family="sentiment", config=cfg, state_dict=build_model(cfg).state_dict())
    report = validate(family, ckpt)
    assert report.ok, report.errors
    assert report.output_shape == (1,)
    assert ckpt["config"]["words"] == cfg.words
    bad = dict(ckpt, config={**ckpt["config"], "words": cfg.words[:-1]})  # one word short: shapes differ
    layer, shape = {"lstm": ("embedding.weight", "(32, 6), model (31, 6)"),
                    "bow": ("linear.weight", "(1, 32), model (1, 31)")}[kind]
    assert validate(family, bad).errors == [f"shape mismatch for {layer}: checkpoint {shape}"]
    cnn = validate(family, dict(ckpt, config={**ckpt["config"], "kind": "cnn"}))
    assert cnn.errors == ["bad config: kind must be one of lstm, bow, got 'cnn'"]


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match=r"^words must be a non-empty list of strings \(the vocabulary"):
        SentimentConfig(words=[])
    with pytest.raises(ValueError, match="^words must not repeat$"):
        SentimentConfig(words=["a", "a"])
    with pytest.raises(ValueError, match="^keep must be 'first' or 'last', got 'middle'$"):
        SentimentConfig(words=["a"], keep="middle")
    with pytest.raises(ValueError, match="^pool must be one of last, mean, max, meanmax, got 'sum'$"):
        SentimentConfig(words=["a"], pool="sum")
