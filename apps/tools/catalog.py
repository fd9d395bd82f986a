"""Every tool module, imported once so each registers itself. Add new tools here."""

from django.conf import settings

from . import (
    batch_images,  # noqa: F401
    cyclegan,  # noqa: F401
    dcgan,  # noqa: F401
    fast_style,  # noqa: F401
    sentiment,  # noqa: F401
    sentiment_batch,  # noqa: F401
    style,  # noqa: F401
    textgen,  # noqa: F401
    train_cyclegan,  # noqa: F401
    train_dcgan,  # noqa: F401
    train_fast_style,  # noqa: F401
    train_sentiment,  # noqa: F401
    train_textgen,  # noqa: F401
)

if settings.STUDIO_DIAGNOSTIC_TOOLS:
    from . import diagnostics  # noqa: F401
