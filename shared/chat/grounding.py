"""Whether a reply says only what its documents or the question back: links, prices, names.

A reply that does not is still shown (it is the model's), but never cached, and counted, so
that a lapse (or a planted phishing link) is not repeated to others."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from shared.ai import ContextDoc
    from shared.cache.responses import ResponseCache

log = logging.getLogger("shared.chat")
Lapse = Literal["link", "price", "name"]
_MONEY = re.compile(r"\$\s?(\d{1,6}(?:,\d{3})*(?:\.\d{1,2})?)")
_LINK = re.compile(r"https?://[^\s<>()\"'\]\[]+[^\s<>()\"'\]\[.,;:!?]")


def ungrounded(
    reply: str,
    question: str,
    docs: Sequence[ContextDoc],
    cache: ResponseCache | None,
    catalog_version: int | None,
) -> Lapse | None:
    """What in a reply neither its documents nor the question back: a link, a price, or a
    catalog product or shop (names other products' descriptions use as words are not names:
    the profile's `generic_names`; names are read by the cache's guard, so only with a cache)."""
    backed = [*(f"{d.name}. {json.dumps(dict(d.fields), default=str)}" for d in docs), question]
    if any(all(link not in text for text in backed) for link in _LINK.findall(reply)):
        return "link"
    amounts = {_amount(m) for text in backed for m in _MONEY.findall(text)}
    amounts |= {_amount(str(d.fields["price"])) for d in docs if d.fields.get("price") is not None}
    if any(_amount(m) not in amounts for m in _MONEY.findall(reply)):
        return "price"
    if cache is None or catalog_version is None:
        return None
    try:
        guard = cache.guard(catalog_version)
        named = set(guard.details(reply[:4000]).names)
        named -= cache.generic_names(catalog_version)
        for text in backed:
            named -= guard.details(text).names
    except Exception:  # a safeguard must not fail the turn
        log.exception("grounding check failed")
        return None
    return "name" if named else None


def _amount(text: str) -> str:
    return f"{float(text.replace(',', '')):.2f}"
