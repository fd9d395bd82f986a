"""``manage.py drift baseline <version> <data>`` profiles data a version was trained for (a sentiment
version: a labelled CSV of texts it did not fit; fast style or CycleGAN: a zip or folder of photos)
as its drift baseline; ``manage.py drift report <version>`` compares its captured traffic with it
now (apps/catalog/drift.py). <version> is the version's id or "family/vN"."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.catalog import drift
from apps.catalog.models import ModelVersion


def find(version: str) -> ModelVersion:
    family, _, number = version.partition("/v")
    found = (ModelVersion.objects.filter(family=family, version=number).first() if number.isdigit()
             else ModelVersion.objects.filter(pk=version).first() if version.isdigit() else None)
    if found is None:
        raise CommandError(f"no model version {version!r} (give its id or family/vN, e.g. sentiment/v2)")
    return found


class Command(BaseCommand):
    help = "Take a version's drift baseline from its training CSV, or report its drift now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["baseline", "report"])
        parser.add_argument("version", help='the version\'s id or "family/vN"')
        parser.add_argument("data", nargs="?", help="baseline: a labelled sentiment CSV, or a zip or folder "
                                                    "of photos")
        parser.add_argument("--skip-every", type=int, default=0, metavar="N",
                            help="baseline: leave out every Nth row (the held-out ones, e.g. 10)")

    def handle(self, *args: Any, **options: Any) -> None:
        from ml.common.image_zip import ImageZipError, read_images
        from ml.sentiment.data import SentimentDataError, read_csv

        version = find(options["version"])
        if options["action"] == "report":
            made = drift.report(version)
            if made is None:
                raise CommandError(f"{version.label}: no baseline yet, or fewer captures than "
                                   "STUDIO_DRIFT_MIN_CAPTURES")
            for name, f in made.figures["features"].items():
                self.stdout.write(f"{name}: PSI {f['psi']:.3f}, KS {f['ks']:.3f} (p = {f['p_value']:.2g})")
            self.stdout.write("; ".join(made.alarms) if made.alarms else f"no drift over {made.n} captures")
            return
        if not options["data"]:
            raise CommandError("baseline needs the data: a CSV of texts, or a zip or folder of photos")
        try:
            texts = version.family in drift.TEXT_FAMILIES
            samples = read_csv(options["data"]).texts if texts else read_images(options["data"]).images
        except (SentimentDataError, ImageZipError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        every = options["skip_every"]
        kept = [s for i, s in enumerate(samples) if not every or i % every]
        try:
            baseline = drift.take_baseline(version, kept)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        positive = "" if baseline["positive"] is None else f", {baseline['positive']:.0%} predicted positive"
        self.stdout.write(f"{version.label}: baseline of {baseline['n']} {'texts' if texts else 'photos'}"
                          f"{positive}")
