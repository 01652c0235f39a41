"""Route examples as data, and their embeddings cached in the store by model and text."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shared.ai import INTENTS, Embedder, Intent
from shared.logs import fields
from shared.store import MODEL_SUFFIX, Embedding, Filter, Store, Write

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("shared.intent")
ROUTES_FILE = Path(__file__).with_name("routes.json")
COLLECTION = "intent_exemplars"
FIELD = "embedding"
EMBED_BATCH = 100


def load_routes(path: Path = ROUTES_FILE) -> list[tuple[Intent, str]]:
    """(intent, example) pairs, in file order."""
    routes = json.loads(path.read_text())["routes"]
    unknown = set(routes) - set(INTENTS)
    if unknown:
        raise ValueError(f"Unknown intents in {path.name}: {sorted(unknown)}")
    return [(intent, text) for intent in INTENTS for text in routes.get(intent, [])]


def exemplar_key(model_id: str, text: str) -> str:
    """A new embedding model gives every example a new key: nothing to invalidate by hand."""
    return hashlib.sha256(f"{model_id}\n{text}".encode()).hexdigest()[:40]


def exemplar_matrix(
    store: Store, embedder: Embedder, examples: Sequence[tuple[Intent, str]]
) -> np.ndarray:
    """One unit row per example: from the store when cached, else embedded and written back."""
    import numpy as np

    model = embedder.model_id
    docs = store.query(COLLECTION, where=[Filter(FIELD + MODEL_SUFFIX, "==", model)])
    cached = {d.data["text"]: d.data[FIELD].values for d in docs if "text" in d.data}
    missing = sorted({text for _, text in examples if text not in cached})
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start : start + EMBED_BATCH]
        vectors = embedder.embed(batch, "query")  # examples are things people ask
        cached.update(zip(batch, vectors, strict=True))
        intents = {text: intent for intent, text in examples}
        store.write_batch(
            Write(
                "set",
                COLLECTION,
                exemplar_key(model, text),
                {"intent": intents[text], "text": text, FIELD: Embedding(vector, model)},
            )
            for text, vector in zip(batch, vectors, strict=True)
        )
    if missing:
        log.info("exemplars embedded", extra=fields(model=model, count=len(missing)))
    return np.vstack([cached[text] for _, text in examples]).astype(np.float32)
