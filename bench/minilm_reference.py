"""all-MiniLM-L6-v2 in float32 and pure numpy, from the packaged safetensors: the bench's reference.

A plain BERT forward pass (embeddings, 6 post-LayerNorm encoder layers, GELU), mean pooling over
the attention mask and L2 normalisation, as sentence-transformers runs this model. It shares only
the tokenizer with shared/ai/local_embedder.py, so their agreement checks the int8 export.
"""

from __future__ import annotations

import importlib.util
import json
import math
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

LAYERS, HEADS, HIDDEN, EPS, MAX_TOKENS = 6, 12, 384, 1e-12, 256
_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def read_safetensors(blob: bytes) -> dict[str, np.ndarray]:
    """Tensors by name: an 8-byte little-endian header length, a JSON header, then raw data."""
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    header.pop("__metadata__", None)
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]])
        flat = np.frombuffer(
            blob, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start
        )
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none, and float32 needs no more."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.sign(x) * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _prepare(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Matrices transposed to (in, out) for `x @ w`, and query, key, value fused into one."""
    tables = {k for k in weights if k.startswith("embeddings.") and k.endswith("embeddings.weight")}
    w = {
        k: v if k in tables or v.ndim != 2 else np.ascontiguousarray(v.T)
        for k, v in weights.items()
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}.attention.self."
        parts = ("query", "key", "value")
        w[p + "qkv.weight"] = np.concatenate([w[f"{p}{n}.weight"] for n in parts], axis=1)
        w[p + "qkv.bias"] = np.concatenate([w[f"{p}{n}.bias"] for n in parts])
    return w


class MiniLM:
    """The float32 model: `embed` gives unit-length mean-pooled rows, one per text."""

    def __init__(self) -> None:
        spec = importlib.util.find_spec("all_minilm_l6_v2")  # never imported: it prints
        assert spec is not None and spec.submodule_search_locations
        archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
        with zipfile.ZipFile(archive) as bundle:
            weights = read_safetensors(bundle.read("model.safetensors"))
            self.tokenizer = Tokenizer.from_str(bundle.read("tokenizer.json").decode())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.w = _prepare(weights)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._embed_one(self.tokenizer.encode(t).ids) for t in texts])

    def _embed_one(self, ids: list[int]) -> np.ndarray:
        w, n = self.w, len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
        )
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        for i in range(LAYERS):
            x = self._layer(x, f"encoder.layer.{i}.")
        pooled = x.mean(axis=0)  # one text, no padding: every token is in the mask
        return (pooled / np.linalg.norm(pooled)).astype(np.float32)

    def _layer(self, x: np.ndarray, p: str) -> np.ndarray:
        w, n, d = self.w, x.shape[0], HIDDEN // HEADS
        qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
        q, k, v = (m.reshape(n, HEADS, d).transpose(1, 0, 2) for m in np.split(qkv, 3, axis=1))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        context = (scores / scores.sum(axis=-1, keepdims=True)) @ v
        context = context.transpose(1, 0, 2).reshape(n, HIDDEN)
        attn = (
            context @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
        )
        x = _layer_norm(
            x + attn,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        hidden = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
        out = hidden @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
        return _layer_norm(
            x + out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
        )
