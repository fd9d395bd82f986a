"""Train a character-level text generator on your own text (a UTF-8 file); the result is a draft
"textgen" version. A sample is written after every epoch (the job's preview and log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms

from ml.common.training import TrainResult
from ml.textgen.config import TrainConfig
from ml.textgen.data import DEFAULT_MAX_BYTES, TextDataError, read_text

from .base import ToolError
from .context import JobProgress
from .fields import TextUploadField
from .training import TrainingForm, TrainingTool


class TrainTextgenForm(TrainingForm):
    text = TextUploadField(label="Training text (.txt)", check=lambda data: read_text(data),
                           max_bytes=DEFAULT_MAX_BYTES,
                           help_text="Plain UTF-8 text, under 10 MB: a few novels, a poet's works, your "
                                     "notes. Its last 10% is held out to measure the validation loss. "
                                     "Hundreds of thousands of characters or more for it to learn more "
                                     "than by heart.")
    epochs = forms.IntegerField(min_value=1, max_value=500, initial=10, required=False)
    n_hidden = forms.IntegerField(label="LSTM width", min_value=8, max_value=2048, initial=256,
                                  required=False,
                                  help_text="512 is the Udacity recipe's; 256 trains ~3x faster.")
    n_layers = forms.IntegerField(label="LSTM layers", min_value=1, max_value=4, initial=2, required=False)
    dropout = forms.FloatField(min_value=0.0, max_value=0.9, initial=0.1, required=False)
    batch_size = forms.IntegerField(label="Rows per batch", min_value=1, max_value=1024, initial=32,
                                    required=False,
                                    help_text="Small batches make more updates per character read (best "
                                              "on a CPU); Udacity's 128 keeps a GPU busier.")
    seq_length = forms.IntegerField(label="Characters per row", min_value=5, max_value=1000, initial=100,
                                    required=False)
    lr = forms.FloatField(label="Learning rate", min_value=1e-6, max_value=1.0, initial=2e-3, required=False)
    sample_prime = forms.CharField(label="Samples start with", max_length=200, initial="The ", required=False,
                                   strip=False)
    field_order = ["text", "epochs", "n_hidden", "n_layers", "dropout", "batch_size", "seq_length", "lr",
                   "sample_prime", "name", "seed", "dry_run"]


class TrainTextgenTool(TrainingTool):
    slug = "train-textgen"
    title = "Train a text generator"
    description = ("Train a character-level LSTM (Udacity char-RNN) on a text file of yours. The "
                   "training and validation losses (nats per character) stream while it trains, with a "
                   "sample of its writing after every epoch; it can be cancelled and resumed; the model "
                   "becomes a draft text-generation version an admin can activate.")
    family = "textgen"
    form_class = TrainTextgenForm
    chart_keys = ("loss", "val_loss")
    data_unit = "characters"
    preview_name = "sample.png"

    def train(self, params: dict[str, Any], inputs: dict[str, bytes], progress: JobProgress,
              state: Path) -> TrainResult:
        from ml.common.device import pick_device
        from ml.textgen.training import train

        cfg = TrainConfig(epochs=params["epochs"], n_hidden=params["n_hidden"], n_layers=params["n_layers"],
                          dropout=params["dropout"], batch_size=params["batch_size"],
                          seq_length=params["seq_length"], lr=params["lr"], seed=params["seed"],
                          sample_prime=params["sample_prime"] or "The ", checkpoint_every=200,
                          dry_run=params["dry_run"])
        try:
            text = read_text(inputs["text"])
        except TextDataError as exc:
            raise ToolError(f"Training text: {exc}") from exc
        return train(cfg, text, progress, checkpoint_path=state, resume=True, device=pick_device())

    def model_card(self, params: dict[str, Any], result: TrainResult) -> str:
        extra = result.checkpoint.get("extra", {})
        val = extra.get("val_loss")
        lines = [f"Character-level LSTM ({params['n_layers']} layers of {params['n_hidden']}) trained in the "
                 f"studio on {result.images:,} characters, {result.step} steps (batch {result.batch_size} x "
                 f"{params['seq_length']}).",
                 f"Validation loss: {val:.3f} nats per character." if val is not None else
                 "No validation loss was measured."]
        lines += [f"Note: {note}" for note in result.notes]
        return "\n".join(lines)
