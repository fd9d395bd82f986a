"""Text tools speed: the char-RNN generator against the Udacity notebook's sampler, and sentiment
predictions one text at a time against predict_many's batches.

    python -m bench.text_tools [--sizes 256,512] [--length 2000] [--texts 2000] [--repeats 1]
                               [--threads 1] [--quick]

1. Char-RNN text, characters per second: ``ml.textgen.infer.generate`` (sampling on the device,
   hidden state carried, one index back per character) against the sampler of Udacity's char-rnn
   notebook (``predict``/``sample``), written out below: per character a numpy one-hot of the one
   character, ``torch.from_numpy``, forward, softmax, ``.cpu()``, top-k, ``.numpy()``,
   ``np.random.choice`` with the k probabilities normalised. The same CharRNN (random weights: speed
   is measured, not prose; an 80-character vocabulary), the same prime, length and top_k 5, each
   n_hidden of --sizes (2 layers, as Udacity). The reference runs a third time with oneDNN off
   (``torch.backends.mkldnn.flags(enabled=False)``), which shows what the gap is made of: on CPU,
   nn.LSTM's oneDNN kernel re-lays out the weights at every call, which one-step calls pay per
   character. Before timing, both are run greedy (top_k 1) and must write the same text.
2. Sentiment predictions per second: a loop that encodes one text and calls the model on it,
   against ``ml.sentiment.infer.predict_many`` (chunks of 256), on the same texts (synthetic
   reviews of 30-200 words from a fixed vocabulary, or Pang & Lee's when $PANG_LEE_DIR holds
   ``polarity-en-pang&lee1.csv``), for the LSTM (Udacity sizes: embedding 400, hidden 256, 2 layers)
   and the bag of words. The two must give the same probabilities (within 1e-5).

Timed rounds rotate which goes first, after an untimed short warm-up; torch runs on --threads
threads (default 1: this machine's second core is often busy). The last run is in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import time
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from statistics import median

import numpy as np
import torch
import torch.nn.functional as F

from bench.studio_client import load_average
from ml.sentiment.config import SentimentConfig
from ml.sentiment.data import Vocab, encode, read_csv
from ml.sentiment.infer import BATCH_CHUNK, SentimentModel, predict_many
from ml.sentiment.model import build_model
from ml.textgen.config import CharRNNConfig
from ml.textgen.infer import generate
from ml.textgen.model import CharRNN, Hidden

# 80 characters, about what Udacity's anna.txt (83) or Austen's novels (81) give.
TOKENS = string.ascii_letters + string.digits + " .,;:!?'\"-()\n*&_[]"
PRIME = "It is a truth universally acknowledged"
TOP_K = 5
PANG_LEE_FILE = "polarity-en-pang&lee1.csv"



def interleaved(fns: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each call; every round runs each function once, the first one rotating, so all
    see the same load on this shared machine."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    items = list(fns.items())
    for r in range(repeats):
        for name, fn in items[r % len(items):] + items[:r % len(items)]:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


# --- 1. char-RNN text ---------------------------------------------------------------------------


def one_hot_encode(arr: np.ndarray, n_labels: int) -> np.ndarray:
    """Udacity's ``one_hot_encode``, as in the notebook."""
    one_hot = np.zeros((arr.size, n_labels), dtype=np.float32)
    one_hot[np.arange(one_hot.shape[0]), arr.flatten()] = 1.0
    return one_hot.reshape((*arr.shape, n_labels))


def udacity_predict(net: CharRNN, char: str, h: Hidden | None, top_k: int | None,
                    char2int: dict[str, int]) -> tuple[str, Hidden]:
    """The notebook's ``predict``: one character in, the next one drawn (numpy's global RNG) out.
    Under no_grad, which the notebook omits (it only adds autograd bookkeeping to the reference)."""
    x = one_hot_encode(np.array([[char2int[char]]]), len(net.tokens))
    inputs = torch.from_numpy(x)
    with torch.no_grad():
        out, h = net(inputs, h)
        p = F.softmax(out.reshape(-1, len(net.tokens)), dim=1).data  # the notebook's net flattens
    p = p.cpu()
    if top_k is None:
        top_ch = np.arange(len(net.tokens))
    else:
        p, top_ch_t = p.topk(top_k)
        top_ch = top_ch_t.numpy().reshape(-1)  # the notebook's squeeze(), which top_k 1 would break
    p_np = p.numpy().reshape(-1)
    index = np.random.choice(top_ch, p=p_np / p_np.sum())
    return net.tokens[int(index)], h


def udacity_sample(net: CharRNN, size: int, prime: str, top_k: int | None) -> str:
    """The notebook's ``sample``: the prime one character at a time, then ``size`` new ones; the
    new characters only, like ``generate``."""
    net.eval()
    char2int = {ch: i for i, ch in enumerate(net.tokens)}
    chars = list(prime)
    h: Hidden | None = None  # the notebook's init_hidden(1): zeros
    for ch in prime:
        char, h = udacity_predict(net, ch, h, top_k, char2int)
    chars.append(char)
    for _ in range(size - 1):
        char, h = udacity_predict(net, chars[-1], h, top_k, char2int)
        chars.append(char)
    return "".join(chars[len(prime):])


def studio_text(net: CharRNN, size: int, prime: str, top_k: int) -> str:
    return "".join(generate(net, prime, size, 1.0, top_k, seed=0, device="cpu"))


def without_onednn(fn: Callable[[], str]) -> Callable[[], str]:
    def call() -> str:
        with warnings.catch_warnings():  # flags() also sets oneDNN's TF32 switch, which warns on CPU
            warnings.filterwarnings("ignore", "TF32 acceleration on top of oneDNN")
            with torch.backends.mkldnn.flags(enabled=False):
                return fn()

    return call


def textgen(sizes: list[int], length: int, repeats: int) -> None:
    print(f"char-RNN text: chars/s writing {length} characters after a {len(PRIME)}-character prime, "
          f"top_k {TOP_K}, 2 LSTM layers, {len(TOKENS)}-character vocabulary, random weights; "
          f"median of {repeats}; x = studio's chars/s over the reference's (aim: x >= 5)")
    print("  studio = ml.textgen.infer.generate; reference = Udacity predict()/sample() (numpy per "
          "character); reference, oneDNN off = the same with torch.backends.mkldnn disabled")
    for hidden in sizes:
        torch.manual_seed(hidden)
        net = CharRNN(CharRNNConfig(tokens=TOKENS, n_hidden=hidden, n_layers=2)).eval()
        greedy = 100
        ours, theirs = studio_text(net, greedy, PRIME, 1), udacity_sample(net, greedy, PRIME, 1)
        assert ours == theirs, f"n_hidden {hidden}: greedy texts differ:\n{ours!r}\n{theirs!r}"
        np.random.seed(0)
        runs: dict[str, Callable[[], str]] = {
            "studio": partial(studio_text, net, length, PRIME, TOP_K),
            "reference": partial(udacity_sample, net, length, PRIME, TOP_K),
            "reference, oneDNN off": without_onednn(partial(udacity_sample, net, length, PRIME, TOP_K)),
        }
        for fn in (studio_text, udacity_sample):  # warm-up, untimed
            fn(net, 20, PRIME, TOP_K)
        without_onednn(partial(udacity_sample, net, 20, PRIME, TOP_K))()
        t = interleaved(runs, repeats)
        rate = {name: length / median(times) for name, times in t.items()}
        s, ref, ref_off = rate["studio"], rate["reference"], rate["reference, oneDNN off"]
        print(f"n_hidden {hidden:4d}: studio {s:7.0f} chars/s, reference {ref:6.0f} chars/s (x{s / ref:.1f}"
              f"{'' if s / ref >= 5 else ', below the aim'}), reference, oneDNN off {ref_off:6.0f} "
              f"chars/s (x{s / ref_off:.2f}); greedy texts identical; {load_average()}")


# --- 2. sentiment ---------------------------------------------------------------------------------


def synthetic_reviews(n: int, seed: int = 0) -> tuple[list[str], Vocab]:
    """``n`` reviews of 30-200 words drawn (Zipf-like) from 12,000 made-up words, punctuation and
    capitals included; the vocabulary keeps the 10,000 most frequent, so some words are unknown."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9)))
             for _ in range(12_000)]
    weights = [1 / (rank + 1) for rank in range(len(words))]
    texts = []
    for _ in range(n):
        chosen = rng.choices(words, weights, k=rng.randint(30, 200))
        texts.append(" ".join(w.capitalize() + "." if rng.random() < 0.06 else w for w in chosen))
    return texts, Vocab.build(texts, max_size=10_000)


def one_at_a_time(sm: SentimentModel, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        ids, _ = encode([text], sm.vocab, sm.config.length, sm.config.pad)
        out.extend(sm.probabilities(ids))
    return out


def sentiment(n: int, repeats: int) -> None:
    folder = os.environ.get("PANG_LEE_DIR")
    if folder:
        data = read_csv(Path(folder) / PANG_LEE_FILE)
        texts = data.texts[:n]
        vocab = Vocab.build(texts)
        source = f"Pang & Lee ({PANG_LEE_FILE}, first {len(texts)})"
    else:
        texts, vocab = synthetic_reviews(n)
        source = "synthetic reviews of 30-200 words"
    print(f"sentiment: texts/s on {len(texts)} {source}, vocabulary {len(vocab.words)} words, "
          f"200 words kept per text, random weights; median of {repeats}")
    print(f"  one at a time = encode one text, one forward; batched = predict_many (chunks of "
          f"{BATCH_CHUNK}); x = batched over one at a time")
    for kind in ("lstm", "bow"):
        torch.manual_seed(0)
        cfg = SentimentConfig(words=list(vocab.words), kind=kind)
        sm = SentimentModel(build_model(cfg).eval(), cfg, vocab)
        one_at_a_time(sm, texts[:20])  # warm-up, untimed
        predict_many(sm, texts[:20])
        single, batched = one_at_a_time(sm, texts), predict_many(sm, texts)
        diff = max(abs(a - b) for a, b in zip(single, batched, strict=True))
        assert diff <= 1e-5, f"{kind}: one at a time and batched differ by {diff:.2e}"
        t = interleaved({"one": partial(one_at_a_time, sm, texts),
                         "batched": partial(predict_many, sm, texts)}, repeats)
        one, many = (len(texts) / median(t[k]) for k in ("one", "batched"))
        what = "LSTM (400, 256, 2)" if kind == "lstm" else "bag of words"
        print(f"{what:18s}: one at a time {one:7.0f} texts/s, batched {many:7.0f} texts/s "
              f"(x{many / one:.1f}); probabilities agree within {diff:.1e}; {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512", help="char-RNN n_hidden values, comma-separated")
    parser.add_argument("--length", type=int, default=2000, help="characters to write per run")
    parser.add_argument("--texts", type=int, default=2000, help="sentiment texts per run")
    parser.add_argument("--repeats", type=int, default=1, help="timed rounds per measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="n_hidden 512 only, 500 characters, 500 texts: about a minute")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.length, args.texts = "512", 500, 500
    torch.set_num_threads(args.threads)
    cuda = "available, unused" if torch.cuda.is_available() else "none"
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} torch "
          f"thread(s) (set here), device cpu (CUDA {cuda}), "
          f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'absent'}; {load_average()}")
    textgen([int(s) for s in args.sizes.split(",")], args.length, args.repeats)
    sentiment(args.texts, args.repeats)


if __name__ == "__main__":
    main()
