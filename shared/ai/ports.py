"""The embedder and generator ports, and the prompt every generator receives."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.errors import ServiceUnavailable

if TYPE_CHECKING:
    import numpy as np

Task = Literal["query", "document"]
Intent = Literal["PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"]
INTENTS: tuple[Intent, ...] = ("PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION")
# The embedded defaults' model ids, which stored vectors, thresholds and health reports name.
LOCAL_EMBEDDER_ID = "all-MiniLM-L6-v2-int8@384"
OFFLINE_WRITER_ID = "offline-grounded-writer"


class ModelError(Exception):
    """A model call that failed and will fail again the same way (a bad request, a bad answer)."""


class ModelUnavailable(ServiceUnavailable):
    """A model call that may succeed if tried again: 429, 5xx, a timeout, a dropped connection."""

    code = "model_unavailable"


class CircuitOpen(ModelUnavailable):
    """The dependency failed too often lately: the call was not even tried."""

    code = "circuit_open"


class Embedder(Protocol):
    model_id: str  # names the model and the dimension, e.g. "gemini-embedding-001@768"
    dimension: int

    def embed(self, texts: Sequence[str], task: Task) -> np.ndarray:
        """One unit-length float32 row per text, in order."""
        ...


@dataclass(frozen=True)
class Retailer:
    """Who the shopper talks to, from the catalog's manifest and profile: the name, what it
    sells in a few words (the tagline, or its top categories), whether it has shops."""

    name: str = "our shop"
    offers: str = "our products"  # said mid-sentence: "I can help with {offers}"
    has_shops: bool = True

    @property
    def owner(self) -> str:
        """The name as a possessive: "Lumen Lamps'", "Stride's"."""
        return f"{self.name}'" if self.name.endswith("s") else f"{self.name}'s"


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class ContextDoc:
    """A retrieved document: what the answer may use, and nothing else."""

    id: str
    kind: Literal["product", "shop", "document"]
    name: str
    fields: Mapping[str, Any] = field(default_factory=dict)  # price, description, hours, ...


@dataclass(frozen=True)
class Prompt:
    """Instructions, then data: the conversation, the retrieved documents, the user's text.

    Everything but `system` is data to the model, never instructions: adapters render it
    inside clearly delimited blocks (see render.py)."""

    system: str
    user: str
    intent: Intent = "GENERAL_CONVERSATION"
    history: Sequence[Turn] = ()
    context: Sequence[ContextDoc] = ()
    retailer: Retailer = field(default_factory=Retailer)


class TextGenerator(Protocol):
    model_id: str
    can_classify: bool  # False offline: routing then falls back to its default

    def generate(self, prompt: Prompt) -> str: ...

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Text chunks as the model produces them."""
        ...

    def classify(self, text: str, labels: Sequence[str]) -> str:
        """Exactly one of `labels` for `text` (structured output, temperature 0)."""
        ...
