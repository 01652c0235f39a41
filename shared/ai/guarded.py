"""The ports again, with every call under the retry policy and its dependency's breaker."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from shared.ai.ports import Embedder, Prompt, Task, TextGenerator
from shared.ai.resilience import (
    CircuitBreaker,
    RetryPolicy,
    call_with_retries,
    stream_with_retries,
)

if TYPE_CHECKING:
    import numpy as np

EMBED_BATCH = 100  # the Gemini API's limit per request; the local model batches within it


class GuardedEmbedder:
    def __init__(self, inner: Embedder, policy: RetryPolicy, breaker: CircuitBreaker) -> None:
        self.inner, self.policy, self.breaker = inner, policy, breaker
        self.model_id = inner.model_id
        self.dimension = inner.dimension

    def embed(self, texts: Sequence[str], task: Task) -> np.ndarray:
        """Each batch retried on its own: a failure never re-sends the batches already done."""
        import numpy as np

        batches = [texts[i : i + EMBED_BATCH] for i in range(0, len(texts), EMBED_BATCH)]
        rows = [
            call_with_retries(
                functools.partial(self.inner.embed, batch, task), self.policy, self.breaker
            )
            for batch in batches
        ]
        return np.vstack(rows) if rows else np.zeros((0, self.dimension), dtype=np.float32)


class GuardedGenerator:
    def __init__(self, inner: TextGenerator, policy: RetryPolicy, breaker: CircuitBreaker) -> None:
        self.inner, self.policy, self.breaker = inner, policy, breaker
        self.model_id = inner.model_id
        self.can_classify = inner.can_classify

    def generate(self, prompt: Prompt) -> str:
        return call_with_retries(lambda: self.inner.generate(prompt), self.policy, self.breaker)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Retried until the first chunk, never after it."""
        return stream_with_retries(
            lambda: iter(self.inner.stream(prompt)), self.policy, self.breaker
        )

    def classify(self, text: str, labels: Sequence[str]) -> str:
        return call_with_retries(
            lambda: self.inner.classify(text, labels), self.policy, self.breaker
        )
