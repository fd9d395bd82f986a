"""The tool registry: every tool the studio offers, by slug. Add a new tool's class here.

This module imports every tool module and no tool module imports it (a batch names the tools it
runs itself), so the registry sits above the tools and no import loops back to it."""

from __future__ import annotations

from django.conf import settings

from .base import Tool
from .batch_images import BatchImagesTool
from .cyclegan import CycleGANTool
from .dcgan import DCGANTool
from .fast_style import FastStyleTool
from .sentiment import SentimentTool
from .sentiment_batch import SentimentBatchTool
from .style import StyleTool
from .textgen import TextgenTool
from .train_cyclegan import TrainCycleGANTool
from .train_dcgan import TrainDCGANTool
from .train_fast_style import TrainFastStyleTool
from .train_sentiment import TrainSentimentTool
from .train_textgen import TrainTextgenTool

REGISTRY: dict[str, Tool] = {}


def register(tool_class: type[Tool]) -> type[Tool]:
    """Offer ``tool_class`` under its slug (one instance, shared by every job of it)."""
    REGISTRY[tool_class.slug] = tool_class()
    return tool_class


def get_tool(slug: str) -> Tool | None:
    return REGISTRY.get(slug)


def all_tools() -> list[Tool]:
    """In the order registered: the order the home page and GET /api/tools list them."""
    return list(REGISTRY.values())


for _tool_class in (BatchImagesTool, CycleGANTool, DCGANTool, FastStyleTool, SentimentTool,
                    SentimentBatchTool, StyleTool, TextgenTool, TrainCycleGANTool, TrainDCGANTool,
                    TrainFastStyleTool, TrainSentimentTool, TrainTextgenTool):
    register(_tool_class)

if settings.STUDIO_DIAGNOSTIC_TOOLS:  # tests, debugging a deploy
    from .diagnostics import SleepTool

    register(SleepTool)
