"""The catalog as query-time code sees it: the stored profile and the lexicon built from it,
read once per catalog version per instance (the version is checked at most every TTL_S)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from shared.ai import Retailer
from shared.catalog import CATALOG_DOC, META
from shared.catalog import profile as profiles
from shared.catalog.profile import Profile
from shared.search.lexicon import Lexicon
from shared.store import Store

TTL_S = 30.0


@dataclass(frozen=True)
class CatalogView:
    version: int  # the catalog version this view was read at
    profile: Profile
    lexicon: Lexicon

    @property
    def retailer(self) -> Retailer:
        p = self.profile
        tops = sorted((c for c in p.categories if " > " not in c), key=lambda c: -p.categories[c])
        offers = _mid_sentence(p.tagline) or _listing([c.lower() for c in tops[:4]])
        offers = offers or "our products"
        return Retailer(name=p.name or "our shop", offers=offers, has_shops=bool(p.shops))

    def suggestions(self) -> list[str]:
        """Three questions to start with, in the catalog's own words."""
        p = self.profile
        leaves = sorted(p.leaves(), key=lambda c: -p.categories[c])
        names = [c.split(" > ")[-1].lower() for c in leaves]
        out = []
        if names:
            out.append(f"What {names[0]} do you recommend?")
        if len(names) > 1:  # "cheapest lamps", "cheapest furniture": a plural, or a mass noun
            many = names[1].endswith("s") and not names[1].endswith("ss")
            out.append(f"What {'are' if many else 'is'} your cheapest {names[1]}?")
        if p.shops:
            cities = Counter(s.city for s in p.shops)
            out.append(f"Which shops in {cities.most_common(1)[0][0]} are open on Sunday?")
        return out[:3]


def _mid_sentence(text: str | None) -> str:
    """A tagline said after "I can help with": "Outdoor gear ..." as "outdoor gear ...", but
    "USB cables" and "iPhone cases" as written."""
    if not text:
        return ""
    first = text.split()[0]
    return text[0].lower() + text[1:] if first[1:].islower() or len(first) == 1 else text


def _listing(items: list[str]) -> str:
    return (
        items[0]
        if len(items) == 1
        else ", ".join(items[:-1]) + " and " + items[-1]
        if items
        else ""
    )


class CatalogViews:
    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self._clock = store, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, CatalogView] | None = None

    def current(self) -> CatalogView:
        now = self._clock()
        cached = self._cached
        if cached is not None and now - cached[0] < TTL_S:
            return cached[1]
        with self._lock:
            meta = self.store.get(META, CATALOG_DOC) or {}
            version = int(meta.get("version", 0))
            if cached is not None and cached[1].version == version:
                self._cached = (now, cached[1])
                return cached[1]
            stored = profiles.load(self.store)
            if cached is not None and (
                stored is None or stored.version == cached[1].profile.version
            ):
                view = CatalogView(version, cached[1].profile, cached[1].lexicon)
            else:
                profile = stored or Profile()
                view = CatalogView(version, profile, Lexicon.build(profile))
            self._cached = (now, view)
            return view
