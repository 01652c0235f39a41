"""The smoke test's plan: the steps in order, what each needs, and why one is skipped (a function
that takes internal traffic only, one found unreachable, or a step it needs that failed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from scripts.smoke.change import Catalog
from scripts.smoke.conversation import Conversation
from scripts.smoke.http import Http
from scripts.smoke.report import Report
from scripts.smoke.steps import FUNCTIONS, Deployment, Health, Metrics, Targets, internal_only


@dataclass(frozen=True)
class Options:
    targets: Targets
    timeout_s: float
    request_timeout_s: float
    token: str | None
    token_from_metadata: bool
    products: Path | None  # --publish-change: the catalog's products file
    record_id: str | None
    project: str | None
    topic: str | None


class Smoke:
    """One run: the steps' shared state, and the steps in order, each reported as it ends."""

    def __init__(self, options: Options, http: Http, report: Report) -> None:
        self.options = options
        self.report = report
        self.deployment = Deployment(http, options.targets)
        self.health = Health(self.deployment)
        self.metrics = Metrics(self.deployment, options.timeout_s)
        self.conversation = Conversation(self.deployment)
        self.catalog: Catalog | None = None
        if options.products is not None:
            self.catalog = Catalog(
                self.health, options.products, options.record_id, options.project,
                options.topic, options.timeout_s,
            )  # fmt: skip

    def run(self) -> None:
        health, metrics, talk = self.health, self.metrics, self.conversation
        for function in FUNCTIONS:
            self._step(f"health {function}", partial(health.health, function), needs=(function,))
        for function in FUNCTIONS:
            self._step(
                f"health details {function}", partial(health.details, function), needs=(function,)
            )
        self._step("metrics baseline", metrics.take_baseline, needs=("metrics",))
        self._step("about", talk.about, needs=("chat",))
        self._step(
            "intent route", talk.intent_route, needs=("intent",),
            so=f", so the turn asks {talk.question!r}",
        )  # fmt: skip
        self._step("session create", talk.create_session, needs=("chat",))
        has_session = ("session create", lambda: talk.session is not None)
        self._step("turn stream", talk.turn, needs=("chat",), after=[has_session])
        has_reply = ("turn stream", lambda: talk.reply is not None)
        self._step("session history", talk.history, needs=("chat",), after=[has_reply])
        self._step("session resume", talk.resume, needs=("chat",), after=[has_session])
        self._step("session delete", talk.delete, needs=("chat",), after=[has_session])
        has_baseline = ("metrics baseline", lambda: metrics.baseline is not None)
        self._step(
            "metrics count", metrics.count, needs=("metrics",), after=[has_baseline, has_reply],
            so=", so the turn cannot be seen counted from here",
        )  # fmt: skip
        if self.catalog is not None:
            self._catalog(self.catalog)

    def _catalog(self, catalog: Catalog) -> None:
        try:
            change = partial(catalog.publish_change, self.conversation.served_products())
            self._step("catalog change", change, needs=())
        finally:  # even on Ctrl-C: whatever was published is published back
            if catalog.change is not None and catalog.change.attempted:
                self._step("catalog restore", catalog.restore, needs=())
            else:
                self.report.skip("catalog restore", "nothing was published")

    def _step(
        self,
        name: str,
        action: Callable[[], str | None],
        *,
        needs: Sequence[str],
        after: Sequence[tuple[str, Callable[[], bool]]] = (),
        so: str = "",
    ) -> None:
        """Runs the step unless a function it needs takes internal traffic only (a skip that
        does not fail the run; `so` says what that leaves unchecked) or was found unreachable,
        or a step it comes after did not do its part."""
        internal = [f for f in needs if f in self.deployment.targets.internal]
        if internal:
            self.report.skip(name, internal_only(internal[0]) + so, by_design=True)
            return
        down = [f for f in needs if f in self.deployment.unreachable]
        if down:
            self.report.skip(name, f"{' and '.join(down)} unreachable")
            return
        missing = [step for step, done in after if not done()]
        if missing:
            self.report.skip(name, f"needs {' and '.join(missing)}")
            return
        self.report.run(name, action)
