"""What gets embedded: the text of a product or a shop built from its meaningful fields, and long
documents cut into overlapping chunks (one vector per chunk)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.catalog.hours import week_summary
from shared.catalog.records import Product, Record, Shop, TextDocument
from shared.catalog.units import from_key, show

CHUNKS = "document_chunks"
CHUNK_WORDS = 120  # about 160 tokens: inside the local model's window, specific enough to rank
CHUNK_OVERLAP = 30  # words repeated from the previous chunk, so no sentence is cut off its context
MAX_CHUNKS = 400  # a 200,000-character document is ~35,000 words: ~390 chunks

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    position: int
    text: str


def embedding_text(record: Record) -> str:
    """The words a shopper would use to find this record, most telling first."""
    if isinstance(record, Product):
        return _product_text(record)
    if isinstance(record, Shop):
        return _shop_text(record)
    raise TypeError(f"{type(record).__name__} records are not embedded whole")


def _product_text(p: Product) -> str:
    """Name, category path, brand, then each attribute in words ("weight 2060 g", "waterproof",
    "finish: matte"), then the description. Labels come from the keys here: the manifest's
    labels may arrive after the products, and a vector must not depend on the order."""
    parts = [f"{p.name}.", f"{p.category.replace(' > ', ', ')}."]
    if p.brand:
        parts.append(f"By {p.brand}.")
    said = [attribute_words(key, value) for key, value in p.attributes.items()]
    if any(said):
        parts.append("; ".join(x for x in said if x) + ".")
    parts.append(p.description)
    return " ".join(parts)


def attribute_words(key: str, value: Any) -> str:
    label, unit = from_key(key)
    if value is True:
        return label
    if value is False:
        return f"not {label}"
    if isinstance(value, int | float):
        return f"{label} {show(value, unit)}"
    if isinstance(value, list):
        items = [show(v, unit) if isinstance(v, int | float) else str(v) for v in value]
        return f"{label}: {', '.join(items)}" if items else ""
    if isinstance(value, dict):
        inner = [attribute_words(f"{key} {k}", v) for k, v in value.items()]
        return "; ".join(x for x in inner if x)
    return f"{label}: {value}" if value not in (None, "") else ""


def _shop_text(s: Shop) -> str:
    where = ", ".join(x for x in (s.city, s.state) if x)
    parts = [f"{s.name}.", f"Store in {where}.", f"Address: {s.address}."]
    if s.amenities:
        parts.append("Amenities: " + ", ".join(s.amenities) + ".")
    parts.append(f"Hours: {week_summary(s.hours)}.")
    if s.description:
        parts.append(s.description)
    return " ".join(parts)


def chunk_document(
    doc: TextDocument, *, words: int = CHUNK_WORDS, overlap: int = CHUNK_OVERLAP
) -> list[Chunk]:
    """Overlapping windows of about `words` words, cut at sentence ends where there is one,
    each prefixed with the title so that a chunk says what it is about on its own."""
    if not 0 <= overlap < words:
        raise ValueError("overlap must be smaller than the chunk size")
    tokens = doc.text.split()
    ends = _sentence_ends(doc.text)
    chunks: list[Chunk] = []
    start = 0
    while start < len(tokens):
        stop = min(len(tokens), start + words)
        if stop < len(tokens):
            # Prefer to end on a sentence in the last third of the window.
            candidates = [e for e in ends if start + (2 * words) // 3 <= e <= stop]
            if candidates:
                stop = candidates[-1]
        chunks.append(Chunk(len(chunks), f"{doc.title}. " + " ".join(tokens[start:stop])))
        if stop >= len(tokens) or len(chunks) >= MAX_CHUNKS:
            break
        start = max(stop - overlap, start + 1)
    return chunks


def _sentence_ends(text: str) -> list[int]:
    """Word counts at which a sentence ends."""
    ends, count = [], 0
    for sentence in _SENTENCE_END.split(text):
        count += len(sentence.split())
        ends.append(count)
    return ends


def chunk_id(doc_id: str, digest: str, position: int) -> str:
    """Chunks of each version of a document have their own ids: a redelivered or concurrent
    older version never overwrites the current one's chunks."""
    return f"{doc_id}_{digest[:16]}_{position:04d}"


def chunk_fields(doc: TextDocument, digest: str, chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_id": doc.id,
        "doc_hash": digest,
        "position": chunk.position,
        "title": doc.title,
        "url": doc.url,
        "text": chunk.text,
    }


def texts_of(records: Iterable[Record]) -> list[str]:
    return [embedding_text(r) for r in records]
