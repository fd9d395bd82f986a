"""The studio's version, written into every result it makes (see apps/tools/lineage.py)."""

VERSION = "0.3.0"
