"""Form fields shared by tools."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from ml.common.images import ImageError, load_image


class UploadedImageField(forms.FileField):
    """A file that must be a real, not-too-large image; checked by decoding it, not by its name."""

    def clean(self, data: Any, initial: Any = None) -> Any:
        upload = super().clean(data, initial)
        if upload is None:
            return upload
        limit = settings.STUDIO_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"{upload.name} is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}."
            )
        upload.seek(0)
        try:
            load_image(upload.read(), max_bytes=limit, max_pixels=settings.STUDIO_MAX_IMAGE_PIXELS)
        except ImageError as exc:
            raise forms.ValidationError(f"{upload.name}: {exc}") from exc
        upload.seek(0)
        return upload
