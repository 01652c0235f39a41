"""The smoke test's conversation with the chat: the retailer's suggestions, the question the turn
asks (routed by the intent function when it can be reached), a session, one streamed turn that
must cite sources, the session's history, resume and delete."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scripts.smoke.http import Failure, snippet
from scripts.smoke.sse import read_events, tally
from scripts.smoke.steps import Deployment, count, iso, parse_time

INTENTS = frozenset({"PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"})
PRODUCT_INTENT = "PRODUCT_RAG"
# Asked when the deployment offers no suggestion of its own: it names no kind of product.
NEUTRAL_QUESTION = "What do you recommend?"
SUGGESTIONS_TRIED = 3  # the page shows three
HISTORY_LIMIT = 10
STORED_REPLY_CHARS = 8000  # a stored reply is cut there (docs/chat.md)


@dataclass
class Session:
    id: str
    token: str
    expires_at: datetime


@dataclass
class Conversation:
    deployment: Deployment
    candidates: list[str] = field(default_factory=lambda: [NEUTRAL_QUESTION])
    # The turn's question: the first suggestion unless the intent route finds a product question.
    question: str = NEUTRAL_QUESTION
    session: Session | None = None
    reply: dict[str, Any] | None = None  # the `done` event's data

    # -- the question

    def about(self) -> str | None:
        data = self.deployment.call("chat", "GET", "/about").object()
        suggestions = data.get("suggestions")
        if not isinstance(suggestions, list):
            raise Failure(f"chat GET /about: no `suggestions` list in {snippet(json.dumps(data))}")
        offered = [s.strip() for s in suggestions if isinstance(s, str) and s.strip()]
        self.candidates = [*offered[:SUGGESTIONS_TRIED], NEUTRAL_QUESTION]
        self.question = self.candidates[0]
        name = data.get("name") or "(no name)"
        return f"{name}: {count(len(offered), 'suggestion')}"

    def intent_route(self) -> str | None:
        """The first of the deployment's own suggestions that reads as a product question; the
        first suggestion if none does (the turn must still cite sources)."""
        seen = []
        for question in self.candidates:
            answer = self.deployment.call("intent", "POST", "/route", body={"query": question})
            data = answer.object()
            intent, confidence = data.get("intent"), data.get("confidence")
            if intent not in INTENTS or not isinstance(confidence, int | float):
                raise Failure(f"{answer.what}: not a routing decision: {snippet(answer.body)}")
            seen.append(f"{intent} {confidence:.2f}")
            if intent == PRODUCT_INTENT:
                self.question = question
                return f"{question!r}: {intent} ({confidence:.2f}, {data.get('method')})"
        self.question = self.candidates[0]
        return f"no question read as {PRODUCT_INTENT} ({'; '.join(seen)}): asking {self.question!r}"

    # -- the session

    def _session_path(self, suffix: str = "") -> str:
        assert self.session is not None
        return f"/sessions/{urllib.parse.quote(self.session.id, safe='')}{suffix}"

    def create_session(self) -> str | None:
        answer = self.deployment.call("chat", "POST", "/sessions", body={}, expect=(201,))
        data = answer.object()
        session_id, token = data.get("session_id"), data.get("token")
        if not isinstance(session_id, str) or not session_id or not isinstance(token, str):
            raise Failure(f"{answer.what}: no session_id and token in the answer")
        expires = parse_time(data.get("expires_at"), answer.what)
        self.session = Session(session_id, token, expires)
        return f"expires {iso(expires)}"

    def turn(self) -> str | None:
        assert self.session is not None
        label = "/sessions/{id}/messages"
        body = {"message": self.question}
        response = self.deployment.stream(
            self._session_path("/messages"), body, self.session.token, label
        )
        what = f"chat POST {label} (stream)"
        with response:
            events = read_events(response, what, self.deployment.http.timeout_s)
        kinds = [kind for kind, _ in events]
        errors = [data for kind, data in events if kind == "error"]
        if errors:
            raise Failure(
                f"{what}: `error` event: {errors[0].get('code')}: {errors[0].get('message')}"
            )
        if not kinds or kinds[0] != "meta":
            raise Failure(f"{what}: the first event is {kinds[:1] or 'missing'}, not `meta`")
        meta = events[0][1]
        if kinds[-1] != "done":
            raise Failure(f"{what}: the stream ended before `done` (events: {tally(kinds)})")
        deltas = [data.get("text") for kind, data in events if kind == "delta"]
        if not deltas or not all(isinstance(text, str) for text in deltas):
            raise Failure(f"{what}: no `delta` text before `done` (events: {tally(kinds)})")
        done = events[-1][1]
        reply = done.get("reply")
        if not isinstance(reply, str) or not reply.strip():
            raise Failure(f"{what}: `done` has no reply")
        if "".join(str(text) for text in deltas) != reply:
            raise Failure(f"{what}: the `delta` texts do not add up to the `done` reply")
        sources = done.get("sources")
        if not isinstance(meta.get("sources"), list) or not meta["sources"]:
            raise Failure(f"{what}: `meta` cites no sources for {self.question!r}")
        if not isinstance(sources, list) or not sources:
            raise Failure(f"{what}: the reply cites no sources for {self.question!r}")
        if not all(isinstance(s, dict) and s.get("id") and s.get("kind") for s in sources):
            raise Failure(f"{what}: a source without id or kind: {snippet(json.dumps(sources))}")
        if done.get("fallback") is not None:
            raise Failure(
                f"{what}: answered by the fallback ladder ({done.get('fallback')!r}): the model "
                "failed (the chat function's logs say why)"
            )
        self.reply = done
        cached = ", cached" if done.get("cached") else ""
        total = (done.get("timings_ms") or {}).get("total")
        server = f", {total:.0f} ms in the function" if isinstance(total, int | float) else ""
        counts = f"{count(len(sources), 'source')}, {count(len(deltas), 'delta')}"
        return f"{done.get('intent')}, {counts}{cached}{server}"

    def served_products(self) -> list[dict[str, Any]]:
        """The products the turn cited (its `done` sources of kind product)."""
        sources = (self.reply or {}).get("sources") or []
        return [s for s in sources if isinstance(s, dict) and s.get("kind") == "product"]

    def history(self) -> str | None:
        assert self.session is not None and self.reply is not None
        path = self._session_path(f"?limit={HISTORY_LIMIT}")
        answer = self.deployment.call(
            "chat", "GET", path, token=self.session.token, label="/sessions/{id}"
        )
        data = answer.object()
        messages = data.get("messages")
        if data.get("session_id") != self.session.id or not isinstance(messages, list):
            raise Failure(f"{answer.what}: not this session's history")
        if len(messages) < 2 or not all(isinstance(m, dict) for m in messages[-2:]):
            raise Failure(f"{answer.what}: {len(messages)} message(s), expected the turn's two")
        asked, answered = messages[-2], messages[-1]
        if asked.get("role") != "user" or asked.get("content") != self.question:
            raise Failure(f"{answer.what}: the question is not the last user message")
        reply = str(self.reply["reply"])
        content = answered.get("content")
        stored = content == reply or (
            isinstance(content, str)
            and len(reply) > STORED_REPLY_CHARS
            and reply.startswith(content[:1000])
        )
        if answered.get("role") != "assistant" or not stored:
            raise Failure(f"{answer.what}: the reply is not the last assistant message")
        self.session.expires_at = parse_time(data.get("expires_at"), answer.what)
        return f"{len(messages)} messages"

    def resume(self) -> str | None:
        assert self.session is not None
        answer = self.deployment.call(
            "chat", "POST", self._session_path("/resume"), token=self.session.token,
            label="/sessions/{id}/resume",
        )  # fmt: skip
        data = answer.object()
        if data.get("session_id") != self.session.id:
            raise Failure(f"{answer.what}: another session_id in the answer")
        expires = parse_time(data.get("expires_at"), answer.what)
        if expires < self.session.expires_at:
            raise Failure(
                f"{answer.what}: expires_at went back ({iso(self.session.expires_at)} -> "
                f"{iso(expires)})"
            )
        self.session.expires_at = expires
        return f"expires {iso(expires)}"

    def delete(self) -> str | None:
        assert self.session is not None
        path, token = self._session_path(), self.session.token
        call = self.deployment.call
        call("chat", "DELETE", path, token=token, expect=(204,), label="/sessions/{id}")
        after = call("chat", "GET", path, token=token, expect=(200, 404), label="/sessions/{id}")
        if after.status != 404:
            raise Failure(f"{after.what}: still {after.status} after DELETE (expected 404)")
        return "gone (404)"
