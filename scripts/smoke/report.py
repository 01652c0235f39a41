"""The smoke test's report: a line per step as it ends (`ok`, `FAIL` or `skip`), then the summary
line the exit code follows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TextIO

from scripts.smoke.http import Failure

MAX_REASON_CHARS = 400

Status = Literal["ok", "FAIL", "skip"]


@dataclass
class Outcome:
    step: str
    status: Status
    ms: float
    note: str
    by_design: bool = False  # a skip because the function cannot be reached from here at all

    def line(self) -> str:
        if self.status == "ok":
            return f"ok {self.step} ({self.ms:.0f} ms)" + (f": {self.note}" if self.note else "")
        return f"{self.status} {self.step}: {self.note}"


class Report:
    """Runs the steps and prints a line for each as it ends."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.outcomes: list[Outcome] = []
        self.started = time.monotonic()

    def run(self, step: str, action: Callable[[], str | None]) -> bool:
        mark = time.perf_counter()
        try:
            note = action()
        except Failure as e:
            self._add(Outcome(step, "FAIL", _ms(mark), _cut(str(e))))
            return False
        except Exception as e:  # a bug or a surprise: still one line, and the run goes on
            reason = f"unexpected {type(e).__name__}: {e}"
            self._add(Outcome(step, "FAIL", _ms(mark), _cut(reason)))
            return False
        self._add(Outcome(step, "ok", _ms(mark), _cut(note or "")))
        return True

    def skip(self, step: str, reason: str, *, by_design: bool = False) -> None:
        """A step not run: one it needs failed, or (`by_design`) its function takes internal
        traffic only, which does not fail the run."""
        self._add(Outcome(step, "skip", 0.0, reason, by_design))

    def _add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        print(outcome.line(), file=self.out, flush=True)

    @property
    def passed(self) -> bool:
        """Every step that could run passed, and at least one did."""
        ran = [o for o in self.outcomes if not o.by_design]
        return bool(ran) and all(o.status == "ok" for o in ran)

    def summary(self, interrupted: bool = False) -> str:
        took = f"{time.monotonic() - self.started:.1f} s"
        failed = [o.step for o in self.outcomes if o.status == "FAIL"]
        skipped = sum(1 for o in self.outcomes if o.status == "skip")
        total = len(self.outcomes)
        if interrupted:
            head = f"INTERRUPTED after {total} steps"
        elif self.passed:
            ran = total - skipped
            unreachable = f"; {skipped} not run (internal only, not reachable from here)"
            return f"PASSED: {ran} of {ran} steps in {took}" + (unreachable if skipped else "")
        else:
            head = f"FAILED: {len(failed)} of {total} steps failed"
        parts = [head + (f" ({', '.join(failed)})" if failed else "")]
        if skipped:
            parts.append(f"{skipped} not run")
        return ", ".join(parts) + f"; {took}"


def _ms(mark: float) -> float:
    return (time.perf_counter() - mark) * 1000


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"
