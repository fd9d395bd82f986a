"""The LSTM starter learns: trained as the installer trains it, on Pang & Lee's reviews with every 10th
(in file order: index 0, 10, 20, ...) held out, it reaches issue 16's 0.80 on those 150, read here
straight from the file, and its model card shows that figure beside the bag of words'. About 2.5
minutes on one core: the real starter net on the real data, from the real GloVe vectors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ml.common.progress import NullProgress
from ml.sentiment import starter
from ml.sentiment.data import read_csv
from ml.sentiment.infer import load, predict_many
from tests.conftest import unavailable

# A real starter's training: with the integration tests (tests/plugin.py). Beside another test on a
# 2-core machine, plus the first conversion of the vectors (34 s), it has taken 4 minutes: 10 allowed.
pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.training, pytest.mark.timeout(600)]


def test_the_quick_lstm_starter_reaches_080_on_reviews_it_never_saw() -> None:
    path = Path(os.environ.get(starter.ENV_VAR, "")) / starter.FILE_NAME
    glove = Path(os.environ.get(starter.VECTORS_ENV_VAR, "") or "/nonexistent")
    if not path.is_file() or not glove.is_file():
        unavailable(f"no {starter.FILE_NAME} in $PANG_LEE_DIR or no ${starter.VECTORS_ENV_VAR}: "
                    "bash scripts/text_data.sh")
    cfg = starter.settings("lstm", full=False)

    result = starter.train_starter(path, cfg, NullProgress(), vectors=glove)

    data = read_csv(path)  # the held-out reviews, straight from the file
    held_out = [i for i in range(len(data)) if i % 10 == 0]
    assert len(held_out) == 150 and sum(data.labels[i] for i in held_out) == 75
    probs = predict_many(load(result.checkpoint), [data.texts[i] for i in held_out])
    accuracy = sum((p >= 0.5) == (data.labels[i] == 1) for p, i in zip(probs, held_out, strict=True)) / 150
    report = result.checkpoint["extra"]["report"]
    assert report["test_rows"] == 150 and report["train_rows"] + report["validation_rows"] == 1350
    card = starter.model_card(cfg, result, 0.0)
    baseline = result.checkpoint["extra"]["baseline"]["accuracy"]
    print(f"\n{card}")
    # Udacity's recipe (first 200 words, last step) was at chance here (0.48), the last starter (last
    # 200 words, mean over time) 0.673, the bag of words 0.780; these settings: docs/text-tools.md.
    assert accuracy >= 0.80, accuracy
    assert f"Test set (150 reviews, never seen in training): accuracy {accuracy:.3f}" in card
    assert f"the same 150 test reviews, a bag of words (logistic regression on word counts of whole " \
           f"reviews): accuracy {baseline:.3f}" in card
    assert "every 10th review in file order is a test review (150)" in card
    assert "pre-trained vectors" in " ".join(result.notes)
