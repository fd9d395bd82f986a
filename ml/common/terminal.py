"""Progress listeners for command-line use: a tqdm bar with the latest metrics, and one that Ctrl-C
asks to stop (for training, which then saves its checkpoint)."""

from __future__ import annotations

import signal
from types import FrameType

from PIL import Image
from tqdm import tqdm


class TerminalProgress:
    def __init__(self, desc: str = "") -> None:
        self._bar: tqdm | None = None
        self._desc = desc

    def update(self, step: int, total: int, message: str = "", preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        if self._bar is None or self._bar.total != total:
            if self._bar is not None:
                self._bar.close()
            self._bar = tqdm(total=total, desc=self._desc, unit="step", dynamic_ncols=True)
        self._bar.n = step
        if metrics:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=False)
        self._bar.refresh()

    def cancelled(self) -> bool:
        return False

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class StoppableProgress(TerminalProgress):
    """The terminal bar, and the first Ctrl-C asks training to stop at the next step (it saves its
    checkpoint first); a second Ctrl-C interrupts at once."""

    def __init__(self, desc: str) -> None:
        super().__init__(desc)
        self._stop = False
        self._previous = signal.signal(signal.SIGINT, self._on_interrupt)

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True
        signal.signal(signal.SIGINT, self._previous)

    def cancelled(self) -> bool:
        return self._stop

    def close(self) -> None:
        super().close()
        signal.signal(signal.SIGINT, self._previous)
