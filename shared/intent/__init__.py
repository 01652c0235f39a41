"""Intent routing (PRODUCT_RAG, LOCATION_RAG, GENERAL_CONVERSATION): exemplars as data, one
matrix product a query, a calibrated linear head, and an LLM only for the ambiguous band.

- `router`: `IntentRouter`, the decision; `exemplars`: the routes file and their stored vectors.
- `head`, `lexical`, `calibration`: the trained head, its word features, per-model thresholds.
- `evaluation`: accuracy on a labelled set (make calibrate, the eval tests, the benchmark).
"""
