"""Form fields shared by tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from ml.common.image_zip import ZipLimits, read_image_zip
from ml.common.images import load_image


class CheckedUploadField(forms.FileField):
    """An upload checked at submit, so a bad file is refused before a job is queued: over
    ``max_bytes()`` it is refused by its size alone; otherwise ``inspect`` reads it, and a ValueError
    it raises (ImageError, ImageZipError, a text reader's error) becomes the field's error."""

    def max_bytes(self) -> int:
        raise NotImplementedError

    def inspect(self, upload: Any) -> None:
        """Read the upload (at its start) and raise ValueError when it will not do."""

    def clean(self, data: Any, initial: Any = None) -> Any:
        upload = super().clean(data, initial)
        if upload is None:
            return upload
        limit = self.max_bytes()
        if upload.size > limit:
            size, most = filesizeformat(upload.size), filesizeformat(limit)
            if size == most:  # rounded alike ("is 9.5 MB; the limit is 9.5 MB"): say it in bytes
                size, most = f"{upload.size:,} bytes", f"{limit:,} bytes"
            raise forms.ValidationError(f"{upload.name} is {size}; the limit is {most}.")
        upload.seek(0)
        try:
            self.inspect(upload)
        except ValueError as exc:
            raise forms.ValidationError(f"{upload.name}: {exc}") from exc
        upload.seek(0)
        return upload


class UploadedImageField(CheckedUploadField):
    """A file that must be a real, not-too-large image; checked by decoding it, not by its name."""

    def max_bytes(self) -> int:
        return int(settings.STUDIO_MAX_UPLOAD_BYTES)

    def inspect(self, upload: Any) -> None:
        load_image(upload.read(), max_bytes=self.max_bytes(), max_pixels=settings.STUDIO_MAX_IMAGE_PIXELS)


class ImageZipField(CheckedUploadField):
    """A zip of training images, checked before the job is queued: a zip at all, within the upload
    limit, no bomb, not too many files, and at least one real image (ml.common.image_zip does the
    checks; the worker reads every image, skipping and naming the ones that are not)."""

    def max_bytes(self) -> int:
        return int(settings.STUDIO_MAX_TRAINING_UPLOAD_BYTES)

    def inspect(self, upload: Any) -> None:
        # The directory's refusals (bomb, file count, size) and one usable image: decoding every
        # image of a 200 MB set here would hold up the web request; the worker reads them all.
        read_image_zip(upload, limits=zip_limits(), max_images=1)


def zip_limits() -> ZipLimits:
    """The studio's limits for one uploaded image zip (pixels per image as for single uploads)."""
    return ZipLimits(max_pixels=settings.STUDIO_MAX_IMAGE_PIXELS)


class TextUploadField(CheckedUploadField):
    """An uploaded text file (a CSV, a plain text), read at submit by ``check(bytes)``: a ValueError
    it raises (e.g. SentimentDataError, TextDataError) becomes the field's error. Files are below
    ``max_bytes`` (the ml readers' limit). Without ``check`` only the size is checked here (a form
    whose clean() reads the file with other fields)."""

    def __init__(self, *, max_bytes: int, check: Callable[[bytes], object] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.limit = max_bytes

    def max_bytes(self) -> int:
        return self.limit - 1  # the ml readers refuse a file of the limit itself

    def inspect(self, upload: Any) -> None:
        if self.check is not None:
            self.check(upload.read())
