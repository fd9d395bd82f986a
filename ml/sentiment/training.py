"""Train a sentiment classifier on labelled texts: the LSTM of Udacity's sentiment-rnn or the
bag-of-words baseline, then measure it on a held-out test set.

The command line is ml/sentiment/train.py:
    python -m ml.sentiment.train data.csv -o out.pt --kind lstm|bow --epochs 4 [--resume] [--dry-run]

Recipe (Udacity): the texts are split by seed into train / validation / test; the vocabulary comes
from the training texts only; BCEWithLogits loss, Adam lr 1e-3, gradients clipped to norm 5. After
every epoch the model is measured on the validation texts; the weights with the lowest validation
loss are kept, and training stops early after ``patience`` epochs without a better one. Then the
kept weights are measured on the test texts: accuracy, precision, recall, ROC AUC, the confusion
matrix and a picture of the ROC curve, which go into the result checkpoint's extra["metrics"] and
extra["report"].

Resuming is exact, as in ml/dcgan/training.py: every random number comes from one seeded
torch.Generator, and dropout (which can only use torch's global generator) runs each step under a
seed drawn from it, inside ``fork_rng`` so the caller's global state is left alone.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ml.common.checkpoint import checkpoint_dict
from ml.common.device import pick_device
from ml.common.drift import profile, text_features
from ml.common.metrics import report, roc_image
from ml.common.progress import Progress
from ml.common.training import EarlyStopping, TrainError, TrainResult
from ml.common.training_run import TrainingRun, TrainingSpec
from ml.common.word_vectors import WordVectors, initial_embedding
from ml.sentiment.config import DRY_RUN_BATCH, DRY_RUN_ROWS, DRY_RUN_STEPS, SentimentConfig, TrainConfig
from ml.sentiment.data import LabelledTexts, Vocab, encode, split, tokenize
from ml.sentiment.model import SentimentLSTM, build_model

METRICS = ("loss", "accuracy")
# The training checkpoint. Settings a resumed run must share with it; epochs, patience and how often
# to report and save may change between runs.
SPEC = TrainingSpec(format="studio-sentiment-training", version=1, family="sentiment", what="sentiment",
                    metrics=METRICS,
                    same_on_resume=("kind", "batch_size", "lr", "clip", "seed", "max_words", "length", "pad",
                                    "keep", "pool", "bidirectional", "window", "embedding_dropout",
                                    "word_vectors", "embedding_dim", "hidden", "layers", "dropout",
                                    "validation", "test", "test_every", "dry_run"))
MIN_ROWS = 10  # fewer cannot be split into train, validation and test sets
EVAL_CHUNK = 256  # texts per forward pass when measuring


@dataclass(frozen=True)
class _Plan:
    rows: int
    train_rows: int
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    fingerprint: str  # of the texts and labels: a resume must see the same data
    report_every: int


@dataclass
class _Encoded:
    ids: torch.Tensor  # (N, length)
    labels: torch.Tensor  # (N,) float 0/1


def train(cfg: TrainConfig, data: LabelledTexts, progress: Progress, *,
          checkpoint_path: str | os.PathLike[str] | None = None, resume: bool = True,
          device: torch.device | str | None = None, vectors: WordVectors | None = None) -> TrainResult:
    """Train on ``data`` (split here by ``cfg.seed``) and return the best model as a studio checkpoint
    of the sentiment family, its test-set figures in extra. ``checkpoint_path`` and ``resume`` work as
    in the DCGAN trainer; ``vectors`` start the embedding when ``cfg.word_vectors`` asks for them.
    Raises TrainError for unusable input."""
    dev = device if isinstance(device, torch.device) else pick_device(device)
    notes: list[str] = []
    data = _usable(cfg, data, notes)
    parts = split(data, cfg.seed, cfg.validation, cfg.test, cfg.test_every)
    vocab = Vocab.build(parts.train.texts, max_size=cfg.max_words)
    if not vocab.words:
        raise TrainError("the training texts have no words")
    mcfg = cfg.model_config(vocab)
    train_set, val_set, test_set = (_encode(part, vocab, mcfg)
                                    for part in (parts.train, parts.validation, parts.test))
    plan = _plan(cfg, data, len(parts.train), notes)

    rng = torch.Generator().manual_seed(cfg.seed)  # every random number of the run comes from here
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # nn's default initialisation draws from the global generator
        model = build_model(mcfg)
    if cfg.word_vectors and not cfg.dry_run:  # the dry run's tiny embedding cannot take them
        if vectors is None:
            raise TrainError("these settings start from pre-trained word vectors, and none were given "
                             "(bash scripts/text_data.sh fetches them)")
        assert isinstance(model, SentimentLSTM)  # TrainConfig refuses word vectors for the bag of words
        found = initial_embedding(vocab.words, vectors, model.embedding.weight)
        notes.append(f"{found:,} of the {len(vocab.words):,} words started from pre-trained vectors")
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    perm: torch.Tensor | None = None  # this epoch's shuffle, once drawn; None between epochs
    stopping = EarlyStopping(cfg.patience)  # keeps the best epoch's weights
    run = TrainingRun(SPEC, cfg, plan, progress, checkpoint_path, resume,
                      parts={"model": model, "opt": opt, "rng": rng},
                      fields=lambda: {"perm": perm, **stopping.state()})
    state = run.resume(lambda old: _other_texts(old, plan), f" ({cfg.epochs} epochs)")
    if state is not None:
        perm, stopping = state["perm"], EarlyStopping.from_state(cfg.patience, state)
    if not stopping.stopped:
        run.start(f"{plan.train_rows} training texts, {vocab.size - 2} words, {plan.steps_per_epoch} steps "
                  f"per epoch")
    criterion = nn.BCEWithLogitsLoss()
    bs, spe = plan.batch_size, plan.steps_per_epoch
    for epoch in range(run.step // spe, cfg.epochs):
        if stopping.stopped:
            break
        if perm is None:
            perm = torch.randperm(plan.train_rows, generator=rng)
        for batch in range(run.step % spe, spe):
            run.checkpoint_or_cancel()
            index = perm[batch * bs:(batch + 1) * bs]
            seed = int(torch.randint(2**31 - 1, (1,), generator=rng))
            run.add(_train_step(model, opt, criterion, train_set.ids[index].to(dev),
                                train_set.labels[index].to(dev), seed, cfg.clip, dev))
            if run.due(plan.report_every):
                means = run.report(run.step / spe, plan.report_every)
                run.update(f"epoch {epoch + 1}/{cfg.epochs}", metrics=means)
        perm = None
        val = _validate(model, val_set, dev)
        run.history.append({"step": run.step, "epoch": float(epoch + 1), **val})
        stopping.end_of_epoch(model, val["val_loss"], epoch + 1)
        run.update(f"epoch {epoch + 1}: validation loss {val['val_loss']:.3f}, accuracy "
                   f"{val['val_accuracy']:.3f}", metrics=val)
    run.save()  # always (a run with nothing left to do rewrites the same state): no "already trained"

    if stopping.note:  # kept in the state, so a run resumed after an early stop still says why
        notes.append(stopping.note)
    stopping.restore_best(model)
    probs = predict_probabilities(model, test_set.ids, dev)
    test = report(probs, [int(y) for y in test_set.labels.tolist()])
    picture = roc_image(test["roc"], test["roc_auc"])
    figures = {k: float(test[k]) for k in ("accuracy", "precision", "recall", "roc_auc")}
    figures["val_loss"] = float(stopping.best_loss)
    run.update(f"test accuracy {figures['accuracy']:.3f}, ROC AUC {figures['roc_auc']:.3f} "
               f"({len(parts.test)} texts)", preview=picture,
               metrics={f"test_{k}": v for k, v in figures.items() if k != "val_loss"})
    # The drift baseline (ml/common/drift.py): the validation texts, which the vocabulary never saw,
    # so new English text reads as it will in production; apps/catalog keeps it on the version.
    val_probs = predict_probabilities(model, val_set.ids, dev)
    baseline = profile(text_features(parts.validation.texts, set(vocab.words), tokenize), val_probs)
    extra = {"metrics": figures, "drift_baseline": baseline,
             "report": {"confusion": test["confusion"], "roc": test["roc"], "test_rows": len(parts.test),
                        "validation_rows": len(parts.validation), "train_rows": plan.train_rows,
                        "best_epoch": stopping.best_epoch, "stopped_early": stopping.stopped,
                        "history": run.history, "notes": list(notes)}}
    ckpt = checkpoint_dict(family="sentiment", config=mcfg, state_dict=model.state_dict(), extra=extra)
    last_train: dict[str, float] = next((h for h in reversed(run.history) if "loss" in h), {})
    final = {**{k: float(last_train[k]) for k in METRICS if k in last_train},
             **{f"test_{k}": v for k, v in figures.items() if k != "val_loss"}}
    return run.result(ckpt, final, picture, images=plan.train_rows, batch_size=bs, notes=notes)


def _train_step(model: nn.Module, opt: torch.optim.Optimizer, criterion: nn.Module, ids: torch.Tensor,
                labels: torch.Tensor, seed: int, clip: float, dev: torch.device) -> dict[str, float]:
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)  # dropout's masks: from the run's generator, through this seed
        if isinstance(model, SentimentLSTM) and model.window:
            logits, owner = model.window_logits(ids)  # each window learns its text's label
            labels = labels[owner]
        else:
            logits = model(ids)
        loss = criterion(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    accuracy = ((logits.detach() > 0).float() == labels).float().mean()
    return {"loss": float(loss.detach()), "accuracy": float(accuracy)}


def _validate(model: nn.Module, val_set: _Encoded, dev: torch.device) -> dict[str, float]:
    """The loss and accuracy on the validation texts."""
    probs = torch.tensor(predict_probabilities(model, val_set.ids, dev))
    loss = float(nn.functional.binary_cross_entropy(probs.clamp(1e-7, 1 - 1e-7), val_set.labels))
    accuracy = float(((probs >= 0.5).float() == val_set.labels).float().mean())
    return {"val_loss": loss, "val_accuracy": accuracy}


def predict_probabilities(model: nn.Module, ids: torch.Tensor, dev: torch.device) -> list[float]:
    """sigmoid(model) for every row of ``ids``, in eval mode, a chunk at a time; the model is left
    in the mode it was in."""
    was_training = model.training
    model.eval()
    out: list[float] = []
    with torch.no_grad():
        for start in range(0, len(ids), EVAL_CHUNK):
            out.extend(torch.sigmoid(model(ids[start:start + EVAL_CHUNK].to(dev))).cpu().tolist())
    model.train(was_training)
    return out


def _usable(cfg: TrainConfig, data: LabelledTexts, notes: list[str]) -> LabelledTexts:
    if cfg.dry_run and len(data) > DRY_RUN_ROWS:
        # A seeded random choice, not the first rows: a file sorted by label would give one class.
        chosen = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed))[:DRY_RUN_ROWS]
        data = data.subset(sorted(chosen.tolist()))
    if len(data) < MIN_ROWS:
        raise TrainError(f"only {len(data)} texts: at least {MIN_ROWS} are needed (for training, "
                         "validation and test)")
    if len(set(data.labels)) < 2:
        raise TrainError("every text has the same label: a classifier needs positive and negative examples")
    cut = sum(1 for t in data.texts if len(tokenize(t)) > cfg.length)
    if cut > len(data) // 4:  # a quarter or more: what is cut off may be where the verdict is
        notes.append(f"{cut} of {len(data)} texts are longer than {cfg.length} words and were cut to their "
                     f"{cfg.keep} {cfg.length}; if what was cut matters (reviews often close with the "
                     "verdict), train with a larger length or keep the last words")
    return data


def _encode(part: LabelledTexts, vocab: Vocab, mcfg: SentimentConfig) -> _Encoded:
    ids, _ = encode(part.texts, vocab, mcfg.length, mcfg.pad, mcfg.keep)
    return _Encoded(ids, torch.tensor(part.labels, dtype=torch.float32))


def _plan(cfg: TrainConfig, data: LabelledTexts, train_rows: int, notes: list[str]) -> _Plan:
    batch = min(cfg.batch_size, DRY_RUN_BATCH) if cfg.dry_run else cfg.batch_size
    batch = min(batch, train_rows)
    steps = math.ceil(train_rows / batch)  # the last batch may be short: no batch norm to upset
    if cfg.dry_run:
        steps = min(steps, DRY_RUN_STEPS)
        notes.append(f"dry run: {len(data)} texts, a tiny model, batch {batch}, {steps} steps per epoch")
    digest = hashlib.sha256()
    for text, label in zip(data.texts, data.labels, strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return _Plan(rows=len(data), train_rows=train_rows, batch_size=batch, steps_per_epoch=steps,
                 total_steps=steps * cfg.epochs, fingerprint=digest.hexdigest()[:16],
                 report_every=1 if cfg.dry_run else cfg.report_every)


def _other_texts(old: dict[str, Any], plan: _Plan) -> str | None:
    """How the training checkpoint's texts (its plan) differ from this run's; None: they do not."""
    if old["fingerprint"] != plan.fingerprint:
        return f"on other texts ({old['rows']} then, {plan.rows} now)"
    return None
