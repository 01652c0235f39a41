"""The smoke test's HTTP client: urllib with a timeout on every request, each failure turned into
one clear line (a Failure, never a stack trace), and the identity token for the functions IAM
guards (intent, metrics), which is never printed and never sent to chat."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPException, HTTPResponse
from typing import Any

ID_TOKEN_ENV = "SMOKE_ID_TOKEN"  # noqa: S105 - the variable's name, not a token
METADATA_HOST_ENV = "GCE_METADATA_HOST"  # as google-auth reads it
METADATA_HOST = "metadata.google.internal"
MAX_BODY_BYTES = 4 * 1024 * 1024
USER_AGENT = "smoke-test (scripts.smoke)"


class Failure(Exception):
    """A step's expected failure: its reason is printed as it is, with no stack trace."""


class Unreachable(Failure):
    """Nothing answered at the address: refused, unknown host, timed out, TLS failed."""


def snippet(data: bytes | str, limit: int = 120) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_type(headers: Message | None) -> str:
    if headers is None:
        return ""
    return str(headers.get_content_type()) if headers.get("Content-Type") else ""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole."""

    what: str  # "chat GET /health": for messages (never a token, never a session id)
    status: int
    content_type: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            kind = self.content_type or "no content type"
            raise Failure(
                f"{self.what}: {self.status}, but not JSON ({kind}): {snippet(self.body)!r}"
            ) from None

    def object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise Failure(
                f"{self.what}: {self.status}, but not a JSON object: {snippet(self.body)}"
            )
        return data

    def error(self) -> Any:
        """The body's `error` member (the contract's `{"code": ..., "message": ...}`), if any."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data.get("error") if isinstance(data, dict) else None

    def error_code(self) -> str | None:
        error = self.error()
        code = error.get("code") if isinstance(error, dict) else None
        return code if isinstance(code, str) else None


class Identity:
    """The identity token for the functions IAM guards (intent, metrics): one given, or one
    per function's URL from the metadata server. Never printed; never sent to chat."""

    def __init__(self, token: str | None, from_metadata: bool, timeout_s: float) -> None:
        self.token = token
        self.from_metadata = from_metadata
        self.timeout_s = timeout_s
        self._minted: dict[str, str] = {}

    @property
    def configured(self) -> bool:
        return bool(self.token) or self.from_metadata

    def headers(self, function: str, base: str) -> dict[str, str]:
        if function == "chat" or not self.configured:
            return {}
        token = self.token or self._metadata_token(origin(base))
        return {"Authorization": f"Bearer {token}"}

    def _metadata_token(self, audience: str) -> str:
        if audience not in self._minted:
            host = os.environ.get(METADATA_HOST_ENV) or METADATA_HOST
            query = urllib.parse.urlencode({"audience": audience})
            url = f"http://{host}/computeMetadata/v1/instance/service-accounts/default/identity"
            request = urllib.request.Request(  # noqa: S310 - a literal http:// URL
                f"{url}?{query}", headers={"Metadata-Flavor": "Google"}
            )
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with direct.open(request, timeout=self.timeout_s) as response:
                    token = response.read(64 * 1024).decode("ascii", "replace").strip()
            except urllib.error.HTTPError as e:
                raise Failure(
                    f"identity token for {audience}: the metadata server answered {e.code} "
                    "(does the account have roles/iam.serviceAccountOpenIdTokenCreator?)"
                ) from None
            except (urllib.error.URLError, OSError, HTTPException) as e:
                reason = getattr(e, "reason", e)
                raise Failure(
                    f"identity token for {audience}: no metadata server at {host} ({reason}); "
                    "--id-token-from-metadata works on Google Cloud only (Cloud Build, a VM)"
                ) from None
            if not token:
                raise Failure(f"identity token for {audience}: the metadata server sent none")
            self._minted[audience] = token
        return self._minted[audience]


class Http:
    """urllib with a timeout on every request, and each failure turned into one clear line."""

    def __init__(self, timeout_s: float, identity: Identity) -> None:
        self.timeout_s = timeout_s
        self.identity = identity
        self._opener = urllib.request.build_opener()  # the environment's proxies, if any

    def call(
        self,
        function: str,
        base: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        token: str | None = None,
        expect: Collection[int] = (200,),
        label: str | None = None,
    ) -> Answer:
        """One request; an Answer when its status is one of `expect`, else a Failure whose
        reason is the contract's error message (or what came instead)."""
        what = f"{function} {method} {label or path}"
        response = self._open(function, base, method, path, body, token, "application/json", what)
        answer = response if isinstance(response, Answer) else self._whole(response, what)
        if answer.status not in expect:
            raise Failure(f"{what}: {self.describe(function, answer)}")
        return answer

    def stream(
        self, function: str, base: str, path: str, body: Any, token: str, label: str
    ) -> HTTPResponse:
        """A POST answered as Server-Sent Events: the open response, to read line by line."""
        what = f"{function} POST {label}"
        response = self._open(function, base, "POST", path, body, token, "text/event-stream", what)
        if isinstance(response, Answer):
            raise Failure(f"{what}: {self.describe(function, response)}")
        if response.status != 200 or content_type(response.headers) != "text/event-stream":
            answer = self._whole(response, what)
            raise Failure(
                f"{what}: expected 200 text/event-stream, got {self.describe(function, answer)}"
            )
        return response

    def _whole(self, response: HTTPResponse, what: str) -> Answer:
        with response:
            data = self._read(response, what)
        kind = content_type(response.headers)
        return Answer(what, response.status, kind, response.headers, data)

    def _open(
        self,
        function: str,
        base: str,
        method: str,
        path: str,
        body: Any,
        token: str | None,
        accept: str,
        what: str,
    ) -> HTTPResponse | Answer:
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        headers.update(self.identity.headers(function, base))
        if token is not None:  # a chat session's token (chat never gets the identity token)
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        url = base.rstrip("/") + path
        # http(s) only: the command line refused any other scheme
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            response: HTTPResponse = self._opener.open(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as e:  # a status of 400 or more: an answer all the same
            error_body = b""
            if e.fp is not None:
                with e:
                    error_body = self._read(e, what)
            return Answer(what, e.code, content_type(e.headers), e.headers, error_body)
        except urllib.error.URLError as e:
            raise Unreachable(f"{what}: {self._network(e.reason, url)}") from None
        except TimeoutError:
            raise Unreachable(f"{what}: no answer within {self.timeout_s:g} s") from None
        except HTTPException as e:
            raise Unreachable(f"{what}: the connection broke ({type(e).__name__})") from None
        except OSError as e:
            raise Unreachable(f"{what}: {self._network(e, url)}") from None
        return response

    def _read(self, response: Any, what: str) -> bytes:
        try:
            data: bytes = response.read(MAX_BODY_BYTES)
        except TimeoutError:
            raise Failure(
                f"{what}: the answer stalled (nothing for {self.timeout_s:g} s)"
            ) from None
        except (HTTPException, OSError) as e:
            raise Failure(f"{what}: the answer was cut off ({type(e).__name__})") from None
        return data

    def _network(self, reason: object, url: str) -> str:
        at = origin(url)
        if isinstance(reason, ConnectionRefusedError):
            return f"connection refused at {at} (is it running there?)"
        if isinstance(reason, socket.gaierror):
            return f"host not found: {urllib.parse.urlsplit(url).hostname}"
        if isinstance(reason, TimeoutError):
            return f"no answer from {at} within {self.timeout_s:g} s"
        if isinstance(reason, ssl.SSLError):
            return f"TLS with {at} failed: {reason.reason or reason}"
        if isinstance(reason, ConnectionError):
            return f"connection to {at} failed ({type(reason).__name__})"
        return f"cannot reach {at}: {reason}"

    def describe(self, function: str, answer: Answer) -> str:
        """`404 not_found: No route for GET /x.`, with a hint where one helps."""
        detail = ""
        error = answer.error()
        if isinstance(error, dict):
            detail = f" {error.get('code')}: {error.get('message')}"
        elif answer.body:
            kind = answer.content_type or "no content type"
            detail = f", not JSON ({kind}): {snippet(answer.body)!r}"
        if answer.status == 429 and answer.headers.get("Retry-After"):
            detail += f" (Retry-After {answer.headers.get('Retry-After')} s)"
        if answer.status in (401, 403) and function != "chat":
            if self.identity.configured:
                detail += (
                    f" (the identity token was refused: is its account in {function}_invokers, "
                    "and its audience the function's URL?)"
                )
            else:
                detail += (
                    f" ({function} takes callers IAM allows: give an identity token, --id-token "
                    "or --id-token-from-metadata)"
                )
        elif answer.status == 404 and error is None:
            detail += (
                " (nothing of this product answers there: check the URL; a function deployed "
                "internal-only cannot be reached from outside its network)"
            )
        return f"{answer.status}{detail}"
