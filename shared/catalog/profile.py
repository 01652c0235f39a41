"""The catalog profile: what the catalog holds, summarised once per catalog version by the ingest
function so that query-time code never scans products or shops. Categories (paths, so a tree),
brands, each attribute's kind (categorical values, numeric range and unit, boolean, list),
prices, places, amenities, names, the manifest's labels, units and synonyms, and the term
statistics lexical ranking needs.

Long because the model, its builder and its storage change together: a field added to the
profile is built, stored and read in the same change."""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.catalog.files import catalog_files, kind_of, read_jsonl
from shared.catalog.indexing import attribute_words
from shared.catalog.records import MANIFEST_ID, Manifest, validate_records
from shared.catalog.units import from_key, unit_of
from shared.catalog.upsert import CATALOG_DOC, META
from shared.store import Store, Transaction
from shared.text import WORD, fold, singular, tokens

log = logging.getLogger("shared.catalog.profile")
PROFILE_DOC = "profile"  # meta/profile (the head) and meta/profile_1.. (the rest of the text)
PART_CHARS = 700_000  # each part well under Firestore's 1 MiB document limit
MAX_PARTS = 40
MAX_VALUES = 400  # an attribute with more distinct strings than this is free text, not values
MAX_VALUE_CHARS = 80

AttributeKind = Literal["categorical", "numeric", "boolean", "list", "text"]


class Attribute(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    kind: AttributeKind
    unit: str | None = None
    values: dict[str, int] = Field(default_factory=dict)  # categorical and list: value -> count
    low: float | None = None  # numeric
    high: float | None = None
    count: int = 0  # products that have it
    categories: dict[str, int] = Field(default_factory=dict)  # where it occurs


class ShopEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    city: str
    state: str = ""
    address: str = ""
    timezone: str | None = None


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int = 0
    name: str | None = None
    tagline: str | None = None
    currency: str = "USD"
    categories: dict[str, int] = Field(default_factory=dict)  # every path and its prefixes
    brands: dict[str, int] = Field(default_factory=dict)
    attributes: dict[str, Attribute] = Field(default_factory=dict)
    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    price_low: float | None = None
    price_high: float | None = None
    products: dict[str, str] = Field(default_factory=dict)  # id -> name
    product_categories: dict[str, str] = Field(default_factory=dict)  # id -> category path
    # Product names that are also ordinary words of the catalog: other products' descriptions
    # use them ("Cold Brew" in another drink's), so a reply may say them without naming the product.
    generic_names: list[str] = Field(default_factory=list)
    shops: list[ShopEntry] = Field(default_factory=list)
    amenities: dict[str, int] = Field(default_factory=dict)
    terms: dict[str, int] = Field(default_factory=dict)  # lexical term -> products having it
    documents: int = 0  # products counted in `terms`
    average_length: float = 0.0  # lexical terms per product

    @property
    def cities(self) -> dict[str, str]:
        return {s.city: s.state for s in self.shops}

    @property
    def states(self) -> set[str]:
        return {s.state for s in self.shops if s.state}

    def leaves(self) -> set[str]:
        """Category paths with no child."""
        paths = set(self.categories)
        return {p for p in paths if not any(q.startswith(p + " > ") for q in paths)}

    def label(self, key: str) -> str:
        found = self.attributes.get(key)
        return found.label if found else from_key(key)[0]

    def specs(self, attributes: Mapping[str, Any]) -> list[str]:
        """A product's attributes in the catalog's labels and units: "weight 2060 g",
        "season rating: 4-season", "waterproof" (yes/no attributes only when yes)."""
        out = []
        for key, value in attributes.items():
            found = self.attributes.get(key)
            label = _PARENTHESIS.sub("", found.label).strip() if found else from_key(key)[0]
            unit = unit_of(found.unit) if found and found.unit else from_key(key)[1]
            shown_unit = unit.symbol if unit else (found.unit if found else None)
            if value is True:
                out.append(label)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                out.append(f"{label} {value:g}{_space(shown_unit)}")
            elif isinstance(value, list) and value:
                items = ", ".join(str(v) for v in value)
                out.append(f"{label}: {items}{_space(shown_unit) if shown_unit else ''}")
            elif isinstance(value, str) and value:
                out.append(f"{label}: {value}")
        return out

    def flags(self, attributes: Mapping[str, Any]) -> dict[str, bool]:
        """A product's yes/no attributes by label."""
        return {
            _PARENTHESIS.sub("", self.label(k)).strip(): v
            for k, v in attributes.items()
            if isinstance(v, bool)
        }

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency; a term the catalog never uses counts as rare."""
        n, df = max(self.documents, 1), self.terms.get(term, 1)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


_PARENTHESIS = re.compile(r"\s*\([^)]*\)")


def _space(unit: str | None) -> str:
    if not unit:
        return ""
    return unit if unit.startswith("°") else f" {unit}"


def lexical_terms(text: str) -> list[str]:
    """The terms lexical ranking counts: folded words, singular, hyphens split."""
    return [singular(w) for w in tokens(fold(text), WORD)]


def product_lexical_text(p: Mapping[str, Any]) -> str:
    """Name, category, brand, description and attribute text (what BM25 ranks over)."""
    attributes = p.get("attributes") or {}
    said = [attribute_words(str(k), v) for k, v in attributes.items()]
    return " ".join(
        str(x)
        for x in (
            p.get("name", ""),
            str(p.get("category", "")).replace(">", " "),
            p.get("brand") or "",
            p.get("description", ""),
            " ".join(said),
        )
    )


def build(
    products: Iterable[Mapping[str, Any]],
    shops: Iterable[Mapping[str, Any]],
    manifest: Mapping[str, Any] | None = None,
    version: int = 0,
) -> Profile:
    m = Manifest.model_validate(manifest or {})
    categories: Counter[str] = Counter()
    brands: Counter[str] = Counter()
    names: dict[str, str] = {}
    terms: Counter[str] = Counter()
    total_terms = 0
    prices: list[float] = []
    seen: dict[str, list[Any]] = {}
    where: dict[str, Counter[str]] = {}
    descriptions: list[tuple[str, str]] = []
    paths: dict[str, str] = {}
    for p in products:
        names[str(p["id"])] = str(p.get("name", ""))
        path = str(p.get("category") or "")
        paths[str(p["id"])] = path
        descriptions.append((str(p["id"]), str(p.get("description", ""))))
        parts = [x.strip() for x in path.split(">") if x.strip()]
        for i in range(len(parts)):
            categories[" > ".join(parts[: i + 1])] += 1
        if p.get("brand"):
            brands[str(p["brand"])] += 1
        if isinstance(p.get("price"), int | float):
            prices.append(float(p["price"]))
        for key, value in (p.get("attributes") or {}).items():
            seen.setdefault(str(key), []).append(value)
            where.setdefault(str(key), Counter())[path] += 1
        words = lexical_terms(product_lexical_text(p))
        total_terms += len(words)
        terms.update(set(words))
    attributes = {
        key: _attribute(key, values, m, where[key]) for key, values in sorted(seen.items())
    }
    entries: list[ShopEntry] = []
    amenities: Counter[str] = Counter()
    for s in shops:
        entries.append(
            ShopEntry(
                id=str(s["id"]),
                name=str(s.get("name", "")),
                city=str(s.get("city", "")),
                state=str(s.get("state") or ""),
                address=str(s.get("address", "")),
                timezone=s.get("timezone"),
            )
        )
        amenities.update(str(a) for a in s.get("amenities") or [])
    return Profile(
        version=version,
        name=m.name,
        tagline=m.tagline,
        currency=m.currency or "USD",
        categories=dict(categories),
        brands=dict(brands),
        attributes=attributes,
        synonyms={k: list(v) for k, v in m.synonyms.items()},
        price_low=min(prices) if prices else None,
        price_high=max(prices) if prices else None,
        products=names,
        product_categories=paths,
        generic_names=_generic_names(names, descriptions),
        shops=sorted(entries, key=lambda e: e.id),
        amenities=dict(amenities),
        terms=dict(terms),  # every term: one missing is a word the catalog never uses
        documents=len(names),
        average_length=total_terms / len(names) if names else 0.0,
    )


GENERIC_USES = 2  # other products' descriptions that must use a name for it to be a word


def _generic_names(names: Mapping[str, str], descriptions: list[tuple[str, str]]) -> list[str]:
    """Names of up to three words that at least GENERIC_USES other products' descriptions use
    as words: one pass over the descriptions' word runs, whatever the catalog's size."""
    wanted = {tuple(lexical_terms(n)): n for n in names.values() if 0 < len(lexical_terms(n)) <= 3}
    users: dict[tuple[str, ...], set[str]] = {}
    for doc_id, text in descriptions:
        words = lexical_terms(text)
        for size in (1, 2, 3):
            for i in range(len(words) - size + 1):
                run = tuple(words[i : i + size])
                if run in wanted and names.get(doc_id) != wanted[run]:
                    users.setdefault(run, set()).add(doc_id)
    return sorted(wanted[r] for r, ids in users.items() if len(ids) >= GENERIC_USES)


def _attribute(key: str, values: list[Any], m: Manifest, where: Counter[str]) -> Attribute:
    info = m.attributes.get(key)
    label, key_unit = from_key(key)
    unit = unit_of(info.unit) if info and info.unit else key_unit
    unit_symbol = unit.symbol if unit else (info.unit if info else None)
    label = info.label if info and info.label else label
    present = [v for v in values if v is not None]
    common = {"key": key, "label": label, "count": len(present), "categories": dict(where)}
    if present and all(isinstance(v, bool) for v in present):
        counts = Counter("true" if v else "false" for v in present)
        return Attribute(kind="boolean", values=dict(counts), **common)
    numbers = [v for v in present if isinstance(v, int | float) and not isinstance(v, bool)]
    if present and len(numbers) == len(present):
        return Attribute(
            kind="numeric", unit=unit_symbol, low=min(numbers), high=max(numbers), **common
        )
    if present and all(isinstance(v, list) for v in present):
        items = [x for v in present for x in v if x is not None]
        if items and all(isinstance(x, int | float) for x in items):
            return Attribute(
                kind="list", unit=unit_symbol, low=min(items), high=max(items), **common
            )
        counts = Counter(str(x) for x in items if len(str(x)) <= MAX_VALUE_CHARS)
        return Attribute(kind="list", values=_bounded(counts), **common)
    strings = Counter(str(v) for v in present if isinstance(v, str | int | float))
    if len(strings) > MAX_VALUES or any(len(v) > MAX_VALUE_CHARS for v in strings):
        return Attribute(kind="text", **common)
    return Attribute(kind="categorical", values=dict(strings), **common)


def _bounded(counts: Counter[str]) -> dict[str, int]:
    return dict(counts.most_common(MAX_VALUES))


def build_from_directory(directory: Path) -> Profile:
    """The profile of a catalog directory's files, without a store (tools and evaluations)."""
    found: dict[str, list[Any]] = {"manifest": [], "products": [], "shops": []}
    for path in catalog_files(directory):
        kind = kind_of(path)
        if kind in found:
            good, _ = validate_records(kind, [line.record for line in read_jsonl(path)[0]])
            found[kind] = [r.model_dump(mode="json") for r in good]
    manifest = found["manifest"][0] if found["manifest"] else None
    return build(found["products"], found["shops"], manifest)


# -- stored with the catalog version ---------------------------------------------------------


def save(store: Store, profile: Profile) -> bool:
    """Store the profile unless a profile of this version or a newer one is there already
    (two ingest instances may build at once: the newest wins, and parts never mix)."""
    # ASCII only (\u escapes): a part's characters are its bytes, under the document limit.
    text = json.dumps(profile.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":"))
    parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
    if len(parts) > MAX_PARTS:
        raise ValueError(f"the catalog profile is too large ({len(text)} characters)")

    def write(txn: Transaction) -> bool:
        head = txn.get(META, PROFILE_DOC)
        if head is not None and int(head.get("version", -1)) >= profile.version:
            return False
        for i, part in enumerate(parts):
            doc = PROFILE_DOC if i == 0 else f"{PROFILE_DOC}_{i}"
            txn.set(META, doc, {"version": profile.version, "parts": len(parts), "text": part})
        return True

    return bool(store.transaction(write))


def load(store: Store) -> Profile | None:
    """The stored profile, or None when there is none (or its parts do not agree)."""
    head = store.get(META, PROFILE_DOC)
    if head is None:
        return None
    version, count = int(head.get("version", 0)), int(head.get("parts", 1))
    texts = [str(head.get("text", ""))]
    for i in range(1, count):
        part = store.get(META, f"{PROFILE_DOC}_{i}")
        if part is None or int(part.get("version", -1)) != version:
            return None  # a newer build is being written: the caller keeps what it has
        texts.append(str(part.get("text", "")))
    try:
        return Profile.model_validate(json.loads("".join(texts)))
    except ValueError:
        log.warning("the stored catalog profile does not parse; rebuilding is needed")
        return None


def stored_version(store: Store) -> int:
    head = store.get(META, PROFILE_DOC)
    return int(head.get("version", -1)) if head else -1


def refresh(store: Store) -> Profile | None:
    """Build and store the profile if the catalog moved past it. Ingest calls this after each
    batch; a redelivered batch finds it current and does nothing."""
    meta = store.get(META, CATALOG_DOC) or {}
    version = int(meta.get("version", 0))
    if stored_version(store) >= version:
        return None
    profile = build(
        (d.data for d in store.query("products")),
        (d.data for d in store.query("shops")),
        store.get(META, MANIFEST_ID),
        version,
    )
    save(store, profile)
    return profile
