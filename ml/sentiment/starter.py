"""The starter sentiment models: trained (not downloaded) on Pang & Lee's movie-review polarity data,
which the Debian package python3-pattern ships among its test corpora (1,500 reviews, half positive).

scripts/text_data.sh unpacks that package under ``<var>/debian/root`` and prints ``PANG_LEE_DIR``.
The corpora's README says they are "meant for personal use", so the data is never copied into git
and the trained models carry that note.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ml.common.progress import NullProgress, Progress
from ml.common.starter import Example, Starter, Training
from ml.common.training import TrainResult
from ml.sentiment.config import TrainConfig
from ml.sentiment.data import read_csv
from ml.sentiment.infer import load, predict
from ml.sentiment.training import train

ENV_VAR = "PANG_LEE_DIR"
FILE_NAME = "polarity-en-pang&lee1.csv"
DEBIAN_PACKAGE = "python3-pattern"
CORPORA = Path("usr/share/doc/python3-pattern/test/corpora")  # inside the package
DEBIAN_DIR = Path("/") / CORPORA  # where apt-get install would put it
LICENCE = "Pang & Lee movie-review data: personal use (python3-pattern test corpora README)"
MISSING = f"no Pang & Lee polarity data ({FILE_NAME})"
REMEDY = (f"Run: bash scripts/text_data.sh  (unpacks {DEBIAN_PACKAGE} under var/debian/). If STUDIO_VAR_DIR "
          f"is set or the data lies elsewhere, also export the {ENV_VAR}=... line it prints.")

# Pang & Lee's reviews run to ~700 words and the verdict is mostly at the end, so the starters read
# whole reviews (the studio's default of 200 words, Udacity's for IMDB, kept the bag of words at 0.70
# test accuracy on this split; 1,500 words: 0.93).
WHOLE_REVIEW = 1500
# Quick: both kinds in about two minutes on two CPU cores. The bag-of-words model learns in seconds.
# The LSTM reads each review's last 200 words (the verdict; its first 200, Udacity's cut, left it at
# chance: 0.48 test accuracy) and averages its outputs over every step (the last step alone could not
# carry the verdict to the output on 1,200 reviews); a small net, lr 3e-3, early stopping.
QUICK = {
    "lstm": TrainConfig(kind="lstm", epochs=8, batch_size=32, lr=3e-3, embedding_dim=64, hidden=64, layers=1,
                        dropout=0.5, length=200, keep="last", pool="mean", patience=3),
    "bow": TrainConfig(kind="bow", epochs=30, patience=3, length=WHOLE_REVIEW),
}
# --full: the same LSTM on the last 400 words, more epochs, early stopping decides.
FULL = {
    "lstm": TrainConfig(kind="lstm", epochs=12, batch_size=32, lr=3e-3, embedding_dim=64, hidden=64, layers=1,
                        dropout=0.5, length=400, keep="last", pool="mean", patience=4),
    "bow": TrainConfig(kind="bow", epochs=60, patience=5, length=WHOLE_REVIEW),
}


# A starter under this test accuracy is installed as a draft and never serves: chance is 0.5.
FLOOR = 0.65


def find_pang_lee(var_dirs: Iterable[Path] = ()) -> Path | None:
    """The polarity CSV: in $PANG_LEE_DIR when that is set (then nowhere else: a wrong setting is
    reported, not papered over), else where scripts/text_data.sh unpacks it under each of
    ``var_dirs``, else where the Debian package installs it. None when it is in none of them."""
    if os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR]) / FILE_NAME
        if not path.is_file():
            raise FileNotFoundError(f"${ENV_VAR} is {os.environ[ENV_VAR]}")  # MISSING names the file
        return path
    for folder in [Path(v) / "debian" / "root" / CORPORA for v in var_dirs] + [DEBIAN_DIR]:
        if (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
    return None


def settings(kind: str, full: bool) -> TrainConfig:
    """The training settings of the ``kind`` starter (a copy: callers may not change the table)."""
    return replace((FULL if full else QUICK)[kind])


def train_starter(path: Path, cfg: TrainConfig, progress: Progress, *,
                  checkpoint_path: Path | None = None) -> TrainResult:
    """Read the polarity CSV and train on it; ``checkpoint_path`` lets an interrupted run resume. An
    LSTM's result also holds the bag of words' figures on the same test reviews (the same seed splits
    the same way; seconds to train), for its model card."""
    data = read_csv(path)
    result = train(cfg, data, progress, checkpoint_path=checkpoint_path)
    if cfg.kind == "lstm":
        baseline = train(replace(QUICK["bow"], seed=cfg.seed), data, NullProgress())
        result.checkpoint["extra"]["baseline"] = dict(baseline.checkpoint["extra"]["metrics"])
    return result


def model_card(cfg: TrainConfig, result: TrainResult, seconds: float) -> str:
    """The model card: what it does, the data, the test figures and the settings it was trained with."""
    report = result.checkpoint["extra"]["report"]
    figures = result.checkpoint["extra"]["metrics"]
    rows = report["train_rows"] + report["validation_rows"] + report["test_rows"]
    if cfg.kind == "lstm":
        model = "an LSTM classifier (word embedding, LSTM, linear output, after Udacity's sentiment-rnn)"
        net = (f"embedding {cfg.embedding_dim}, {cfg.layers} x {cfg.hidden} LSTM, {cfg.pool} of its outputs "
               f"over time, dropout {cfg.dropout}, {cfg.keep} {cfg.length} words of each review, ")
    else:
        model = "a bag-of-words baseline (logistic regression on word counts)"
        net = ""
    stop = f", stopped early (kept epoch {report['best_epoch']})" if report["stopped_early"] else (
        f", kept epoch {report['best_epoch']}")
    baseline = result.checkpoint["extra"].get("baseline")
    beside = (f"The baseline on the same {report['test_rows']} test reviews, a bag of words (logistic "
              f"regression on word counts of whole reviews): accuracy {baseline['accuracy']:.3f}, ROC AUC "
              f"{baseline['roc_auc']:.3f}.\n") if baseline else ""
    return (
        f"Says whether an English text is positive or negative: {model}, trained by the studio's "
        "starter installer.\n"
        f"Data: {rows:,} movie reviews (half positive, half negative) from Pang & Lee's movie-review "
        f"polarity data, as the Debian package {DEBIAN_PACKAGE} ships it ({FILE_NAME}); split by "
        f"seed {cfg.seed} into {report['train_rows']:,} training, {report['validation_rows']:,} "
        f"validation and {report['test_rows']:,} test reviews.\n"
        f"Test set ({report['test_rows']} reviews, never seen in training): accuracy "
        f"{figures['accuracy']:.3f}, precision {figures['precision']:.3f}, recall {figures['recall']:.3f}, "
        f"ROC AUC {figures['roc_auc']:.3f}.\n"
        f"{beside}"
        f"Settings: {net}vocabulary of the {cfg.max_words:,} most frequent training words, up to "
        f"{cfg.epochs} epochs (early-stopping patience {cfg.patience}){stop}, batch {cfg.batch_size}, "
        f"Adam lr {cfg.lr:g}, gradient clip {cfg.clip:g}; {result.step} steps in {seconds:.0f} s.\n"
        "Limits: movie reviews only, and few of them; sarcasm, negation far from the sentiment "
        "word and other domains fool it.\n"
        f"Licence: {LICENCE}."
    )


def metrics(result: TrainResult) -> dict[str, Any]:
    """The catalog version's figures: the test set's, its size, the epoch kept and the steps."""
    report = result.checkpoint["extra"]["report"]
    return {**result.checkpoint["extra"]["metrics"], "test_rows": report["test_rows"],
            "best_epoch": report["best_epoch"], "steps": result.step}


def headline(m: dict[str, Any]) -> str:
    return (f"test accuracy {m['accuracy']:.3f}, precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
            f"ROC AUC {m['roc_auc']:.3f} ({m['test_rows']} reviews)")


# The home page's example: a short, clearly positive review. The models learnt from ~700-word reviews,
# so a short text moves them less (the starter bag of words: 0.66 for this one; a blander wording
# such as "a warm, funny film ... I enjoyed every minute" got 0.56); the card shows what they say.
EXAMPLE_REVIEW = ("A terrific film. The performances are excellent, the script is sharp and funny, and "
                  "the ending is genuinely moving. Highly recommended.")


def verdict_example(checkpoint: dict[str, Any]) -> Example:
    """EXAMPLE_REVIEW with the model's label and its probability, whatever they are."""
    prediction = predict(load(checkpoint), EXAMPLE_REVIEW)
    sure = prediction.probability if prediction.label == "positive" else 1 - prediction.probability
    return Example(caption=f"The model says: {prediction.label} (probability {sure:.2f})",
                   text=EXAMPLE_REVIEW)


def training(kind: str) -> Training:
    return Training(
        package=DEBIAN_PACKAGE, settings=lambda full: settings(kind, full), train=train_starter,
        card=model_card, metrics=metrics, headline=headline, score=lambda m: float(m["accuracy"]),
        preview_label="ROC curve (test set)", floor=FLOOR,
    )


def starter(kind: str, name: str, var_dirs: Callable[[], Iterable[Path]]) -> Starter:
    return Starter(
        key=f"sentiment-{kind}", family="sentiment", name=name,
        description=f"Trained on install on Pang & Lee's movie reviews ({FILE_NAME}).",
        licence=LICENCE,
        locate=lambda: find_pang_lee(var_dirs()),
        missing=MISSING, remedy=REMEDY,
        training=training(kind), replaces=f"debian:{DEBIAN_PACKAGE}:", example=verdict_example,
    )


def starters(var_dirs: Callable[[], Iterable[Path]]) -> tuple[Starter, ...]:
    """Both kinds, looking for the data also under the folders ``var_dirs()`` names when they are
    located (where scripts/text_data.sh unpacks it: the studio passes its var folders). Both are
    trained; the one with the better test accuracy serves, the other stays a draft."""
    return (
        starter("lstm", "Sentiment LSTM (Pang & Lee movie reviews)", var_dirs),
        starter("bow", "Sentiment bag-of-words (Pang & Lee movie reviews)", var_dirs),
    )
