"""Train a sentiment model on your own labelled texts (a CSV); the result is a draft "sentiment"
version whose model card and metrics carry its test-set report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms

from ml.common.training import TrainResult
from ml.sentiment.config import KINDS, TrainConfig
from ml.sentiment.data import MAX_BYTES, SentimentDataError, read_csv

from .base import ToolError
from .context import JobProgress
from .fields import TextUploadField
from .training import TrainingForm, TrainingTool

KIND_NAMES = {"lstm": "Word LSTM (Udacity sentiment-rnn)", "bow": "Bag of words (logistic regression)"}


class TrainSentimentForm(TrainingForm):
    texts = TextUploadField(label="Labelled texts (CSV)", check=lambda data: read_csv(data),
                            max_bytes=MAX_BYTES,
                            help_text="UTF-8 CSV with a header naming 'text' and 'label' columns (labels "
                                      "0/1, -1/1, pos/neg or positive/negative), or Pang & Lee's "
                                      "'label,text' rows. Up to 50,000 rows. 10% is held out for "
                                      "validation and 10% for the test report.")
    kind = forms.ChoiceField(label="Model", choices=[(k, KIND_NAMES[k]) for k in KINDS], initial="lstm",
                             required=False)
    epochs = forms.IntegerField(min_value=1, max_value=100, initial=4, required=False)
    batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=50, required=False)
    lr = forms.FloatField(label="Learning rate", min_value=1e-6, max_value=1.0, initial=1e-3, required=False)
    patience = forms.IntegerField(label="Early stopping patience", min_value=0, max_value=100, initial=2,
                                  required=False, help_text="Epochs without a better validation loss "
                                                            "before stopping (0: never stop early).")
    max_words = forms.IntegerField(label="Vocabulary size", min_value=10, max_value=200_000, initial=20_000,
                                   required=False)
    length = forms.IntegerField(label="Words read per text", min_value=5, max_value=2_000, initial=200,
                                required=False,
                                help_text="Longer texts are cut to their first words; whole movie reviews "
                                          "need 1,000 or more (the job's notes say how many were cut).")
    hidden = forms.IntegerField(label="LSTM width", min_value=4, max_value=2048, initial=256, required=False)
    field_order = ["texts", "kind", "epochs", "batch_size", "lr", "patience", "max_words", "length", "hidden",
                   "name", "seed", "dry_run"]


class TrainSentimentTool(TrainingTool):
    slug = "train-sentiment"
    title = "Train a sentiment model"
    description = ("Train a word LSTM or a bag-of-words classifier on a CSV of your labelled texts. Loss and "
                   "accuracy curves stream while it trains; it stops early when validation stops "
                   "improving; a test report (accuracy, precision, recall, ROC AUC, confusion matrix, ROC "
                   "curve) is stored with the draft sentiment version.")
    family = "sentiment"
    form_class = TrainSentimentForm
    chart_keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    data_unit = "texts"
    preview_name = "roc-curve.png"

    def train(self, params: dict[str, Any], inputs: dict[str, bytes], progress: JobProgress,
              state: Path) -> TrainResult:
        from ml.common.device import pick_device
        from ml.sentiment.training import train

        cfg = TrainConfig(kind=params["kind"], epochs=params["epochs"], batch_size=params["batch_size"],
                          lr=params["lr"], patience=params["patience"], max_words=params["max_words"],
                          length=params["length"], hidden=params["hidden"], seed=params["seed"],
                          checkpoint_every=200, dry_run=params["dry_run"])
        try:
            data = read_csv(inputs["texts"])
        except SentimentDataError as exc:
            raise ToolError(f"Labelled texts: {exc}") from exc
        return train(cfg, data, progress, checkpoint_path=state, resume=True, device=pick_device())

    def model_card(self, params: dict[str, Any], result: TrainResult) -> str:
        f = {k: result.final.get(f"test_{k}", float("nan"))
             for k in ("accuracy", "precision", "recall", "roc_auc")}
        report = result.checkpoint.get("extra", {}).get("report", {})
        (tn, fp), (fn, tp) = report.get("confusion", [[0, 0], [0, 0]])
        lines = [f"{KIND_NAMES[params['kind']]} trained in the studio on {result.images:,} texts, "
                 f"{result.step} steps (batch {result.batch_size}).",
                 f"Test set ({report.get('test_rows', '?')} held-out texts): accuracy "
                 f"{f['accuracy']:.3f}, precision {f['precision']:.3f}, recall {f['recall']:.3f}, "
                 f"ROC AUC {f['roc_auc']:.3f}; "
                 f"confusion: {tp} true positives, {tn} true negatives, {fp} false positives, "
                 f"{fn} false negatives. The preview is the ROC curve."]
        lines += [f"Note: {note}" for note in result.notes]
        return "\n".join(lines)
