"""The operator command's terminal: a progress bar on stderr, and log lines that never run
into it (scripts/publish_catalog.py)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.config import Settings


class ProgressBar:
    """One line redrawn in place on a terminal; elsewhere a line every 10 %."""

    def __init__(
        self, label: str, stream: IO[str] | None = None, *, unit: str = "records", width: int = 28
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self.width = width
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self._last_text = ""
        self._last_step = -1
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        done = max(0, min(done, total))
        percent = 100 * done // total
        if self.tty:
            filled = self.width * done // total
            bar = "#" * filled + "." * (self.width - filled)
            text = f"{self.label} [{bar}] {percent:3d}% {done}/{total} {self.unit}"
            if text != self._last_text or not self._drawn:
                self.stream.write("\r" + text + "\x1b[K")
                self.stream.flush()
                self._last_text, self._drawn = text, True
            return
        step = percent // 10
        if step > self._last_step:
            self._last_step = step
            self.stream.write(f"{self.label}: {percent}% ({done}/{total} {self.unit})\n")
            self.stream.flush()

    def clear(self) -> None:
        """Rub the line out (before a log line); the next update draws it again."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class ClearBars(logging.Filter):
    """Before a log line reaches the terminal, rub out the progress bar it would run into."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[ProgressBar] = []

    def filter(self, record: logging.LogRecord) -> bool:
        for bar in self.bars:
            bar.clear()
        return True


@contextlib.contextmanager
def logs_on_stderr(level: str, settings: Settings) -> Iterator[ClearBars]:
    """The in-process functions log JSON to stdout: send it to stderr, where it cannot mix
    with the summary, at `level` and above; put everything back afterwards."""
    from shared.logs import JsonFormatter, configure_logging

    configure_logging(settings.log_level)
    clear = ClearBars()
    changed: list[tuple[logging.StreamHandler[Any], Any, int]] = []
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler and isinstance(handler.formatter, JsonFormatter):
            changed.append((handler, handler.stream, handler.level))
            _set_stream(handler, sys.stderr)
            handler.setLevel(level)
            handler.addFilter(clear)
    try:
        yield clear
    finally:
        for handler, stream, old_level in changed:
            handler.removeFilter(clear)
            handler.setLevel(old_level)
            _set_stream(handler, stream)


def _set_stream(handler: logging.StreamHandler[Any], stream: Any) -> None:
    """StreamHandler.setStream, without flushing the old stream (it may be closed)."""
    handler.acquire()
    try:
        handler.stream = stream
    finally:
        handler.release()
