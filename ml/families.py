"""Every model family the catalog knows, by name. Add a family here when its module exists."""

from __future__ import annotations

from ml.common.family import Family

FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    _load_all()
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}; known: {', '.join(sorted(FAMILIES))}") from None


def _load_all() -> None:
    """Import the family modules so they register (kept lazy: importing torch models is slow)."""
    import importlib

    for module in (
        "ml.dcgan.family",
        "ml.cyclegan.family",
        "ml.fast_style.family",
        "ml.features.family",
        "ml.textgen.family",
        "ml.sentiment.family",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A family not built yet is simply absent; a family whose own imports fail is a bug.
            if exc.name is None or not module.startswith(exc.name):
                raise
