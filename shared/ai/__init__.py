"""Models: embeddings and generation, on Gemini or offline, behind two ports.

Outside this package, import the ports and their types from here (`Embedder`,
`TextGenerator`, `Prompt`, the model errors). The adapters (`gemini`, `local_embedder`,
`offline_writer`, and `guarded`, which wraps either in retries and a circuit breaker) are
chosen by `shared.wiring`; `fallback`, `prompts` and `render` are what a chat turn does with a
model's answer.
"""

from shared.ai.ports import (
    INTENTS,
    LOCAL_EMBEDDER_ID,
    OFFLINE_WRITER_ID,
    CircuitOpen,
    ContextDoc,
    Embedder,
    Intent,
    ModelError,
    ModelUnavailable,
    Prompt,
    Retailer,
    Task,
    TextGenerator,
    Turn,
)

__all__ = [
    "INTENTS",
    "LOCAL_EMBEDDER_ID",
    "OFFLINE_WRITER_ID",
    "CircuitOpen",
    "ContextDoc",
    "Embedder",
    "Intent",
    "ModelError",
    "ModelUnavailable",
    "Prompt",
    "Retailer",
    "Task",
    "TextGenerator",
    "Turn",
]
